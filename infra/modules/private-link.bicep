// Private endpoints (optional, privateNetworking = true): one per service the app
// reaches, each registered in its privatelink DNS zone so the app's normal host
// names resolve to private addresses.
//
// Where the zones live depends on who answers the spoke's DNS queries (zoneMode):
//
// * stamp: the VNet uses Azure-provided DNS (dnsServers empty). The zones are
//   created here and linked to the spoke; Azure DNS consults linked zones.
// * central: the VNet uses the hub's DNS servers. A VNet with custom DNS servers
//   never consults zones linked to it, so zones here would be ignored and every
//   name would resolve to a public address whose public access is off. The zones
//   therefore exist once, centrally (platform team), linked to the VNet where the
//   hub's resolvers are, and the hub forwards privatelink names to Azure DNS
//   (168.63.129.16). The endpoints register their records in those zones. One set
//   of zones for all stamps: a VNet can be linked to only one zone of a name.
//
// infra/scripts/smoke_check.py resolves each name after a deployment.

@description('Azure region.')
param location string

@description('Tags put on every resource.')
param tags object

@description('Spoke VNet the DNS zones are linked to (zoneMode stamp).')
param vnetId string

@description('Subnet the private endpoints are placed in.')
param subnetId string

@description('Endpoints: objects with name, targetId, groupId (blob, table, vault, namespace) and zone.')
param endpoints array

@description('stamp: create the zones here, linked to the spoke; central: use the zones in centralZoneResourceGroupId.')
@allowed([
  'stamp'
  'central'
])
param zoneMode string

@description('Resource group id (/subscriptions/…/resourceGroups/…) of the central privatelink zones (zoneMode central).')
param centralZoneResourceGroupId string

var createZones = zoneMode == 'stamp'

resource zone 'Microsoft.Network/privateDnsZones@2020-06-01' = [for endpoint in (createZones ? endpoints : []): {
  name: endpoint.zone
  location: 'global'
  tags: tags
}]

resource zoneLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = [for (endpoint, i) in (createZones ? endpoints : []): {
  parent: zone[i]
  name: 'link-to-spoke'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnetId
    }
  }
}]

resource privateEndpoint 'Microsoft.Network/privateEndpoints@2024-05-01' = [for endpoint in endpoints: {
  name: 'pe-${endpoint.name}'
  location: location
  tags: tags
  properties: {
    subnet: {
      id: subnetId
    }
    privateLinkServiceConnections: [
      {
        name: endpoint.name
        properties: {
          privateLinkServiceId: endpoint.targetId
          groupIds: [
            endpoint.groupId
          ]
        }
      }
    ]
  }
}]

resource zoneGroup 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = [for (endpoint, i) in endpoints: {
  parent: privateEndpoint[i]
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: endpoint.groupId
        properties: {
          privateDnsZoneId: createZones ? resourceId('Microsoft.Network/privateDnsZones', endpoint.zone) : '${centralZoneResourceGroupId}/providers/Microsoft.Network/privateDnsZones/${endpoint.zone}'
        }
      }
    ]
  }
  dependsOn: [
    zone
  ]
}]
