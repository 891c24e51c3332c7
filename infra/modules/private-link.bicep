// Private endpoints (optional, privateNetworking = true): one per service the app
// reaches, each with its private DNS zone linked to the spoke VNet so the app's
// normal host names resolve to private addresses.
//
// Landing zones that keep DNS zones centrally in the hub can delete the zone and
// link resources here and point the zone groups at the hub's zones instead.

@description('Azure region.')
param location string

@description('Tags put on every resource.')
param tags object

@description('Spoke VNet the DNS zones are linked to.')
param vnetId string

@description('Subnet the private endpoints are placed in.')
param subnetId string

@description('Endpoints: objects with name, targetId, groupId (blob, table, vault, namespace) and zone.')
param endpoints array

resource zone 'Microsoft.Network/privateDnsZones@2020-06-01' = [for endpoint in endpoints: {
  name: endpoint.zone
  location: 'global'
  tags: tags
}]

resource zoneLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = [for (endpoint, i) in endpoints: {
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
          privateDnsZoneId: zone[i].id
        }
      }
    ]
  }
}]
