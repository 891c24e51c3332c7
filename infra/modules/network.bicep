// The administration's spoke network: where the function app's outbound traffic
// leaves from (VNet integration) and where private endpoints live.
//
// MLLP to Millennium's interface engine is plain TCP to an on-premises address, so
// the app must egress from a subnet that routes to the region's hub (ExpressRoute /
// VPN to the data centre). Peering to the hub is created here; the hub side of the
// peering belongs to the platform team's landing zone.

@description('Name prefix of the network resources.')
param name string

@description('Azure region.')
param location string

@description('Tags put on every resource.')
param tags object

@description('Address space of the spoke VNet, e.g. 10.212.1.0/24.')
param vnetAddressPrefix string

@description('Subnet the function app egresses from (Flex Consumption needs at least /27).')
param integrationSubnetPrefix string

@description('Subnet for private endpoints.')
param privateEndpointSubnetPrefix string

@description('DNS servers of the hub (they resolve the on-premises interface engine names).')
param dnsServers array

@description('Resource id of the hub VNet to peer with; empty for no peering (developer stamps).')
param hubVirtualNetworkId string

@description('Route through the hub\'s gateway. Azure refuses the peering unless the hub side exists with allowGatewayTransit and the hub has a VPN/ExpressRoute gateway.')
param hubUseRemoteGateways bool

@description('Address prefixes of Millennium\'s interface engine and FHIR endpoint (on premises).')
param millenniumAddressPrefixes array

@description('TCP port of the MLLP listener.')
param millenniumMllpPort int

@description('Hub or on-premises ranges operators reach the private endpoints from (HTTPS); empty for none.')
param operatorAddressPrefixes array = []

var operatorRules = empty(operatorAddressPrefixes) ? [] : [
  {
    // Operators set the secrets and read the crosswalk over the private endpoints.
    name: 'allow-operators-https'
    properties: {
      priority: 300
      direction: 'Inbound'
      access: 'Allow'
      protocol: 'Tcp'
      sourceAddressPrefixes: operatorAddressPrefixes
      sourcePortRange: '*'
      destinationAddressPrefix: privateEndpointSubnetPrefix
      destinationPortRange: '443'
    }
  }
]

resource integrationNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: 'nsg-${name}-functions'
  location: location
  tags: tags
  properties: {
    securityRules: [
      {
        // Documents and pins the one on-premises path the app needs: MLLP and
        // HTTPS (FHIR) to Millennium. The hub firewall enforces the rest.
        name: 'allow-millennium-mllp-fhir'
        properties: {
          priority: 200
          direction: 'Outbound'
          access: 'Allow'
          protocol: 'Tcp'
          sourceAddressPrefix: integrationSubnetPrefix
          sourcePortRange: '*'
          destinationAddressPrefixes: millenniumAddressPrefixes
          destinationPortRanges: [
            string(millenniumMllpPort)
            '443'
          ]
        }
      }
    ]
  }
}

var privateEndpointRules = [
  {
    // Only the app's own subnet talks to the private endpoints: HTTPS to Blob,
    // Table and Key Vault, and AMQP over TLS to Service Bus (5671, with 5672 as
    // Microsoft lists it), which the Functions host's Service Bus extension and
    // the azure-servicebus SDK use unless told to use WebSockets on 443.
    name: 'allow-from-functions'
    properties: {
      priority: 200
      direction: 'Inbound'
      access: 'Allow'
      protocol: 'Tcp'
      sourceAddressPrefix: integrationSubnetPrefix
      sourcePortRange: '*'
      destinationAddressPrefix: privateEndpointSubnetPrefix
      destinationPortRanges: [
        '443'
        '5671-5672'
      ]
    }
  }
  {
    name: 'deny-other-vnet-inbound'
    properties: {
      priority: 4000
      direction: 'Inbound'
      access: 'Deny'
      protocol: '*'
      sourceAddressPrefix: 'VirtualNetwork'
      sourcePortRange: '*'
      destinationAddressPrefix: privateEndpointSubnetPrefix
      destinationPortRange: '*'
    }
  }
]

resource privateEndpointNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: 'nsg-${name}-private-endpoints'
  location: location
  tags: tags
  properties: {
    securityRules: concat(privateEndpointRules, operatorRules)
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: 'vnet-${name}'
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        vnetAddressPrefix
      ]
    }
    dhcpOptions: {
      dnsServers: dnsServers
    }
    subnets: [
      {
        name: 'snet-functions'
        properties: {
          addressPrefix: integrationSubnetPrefix
          networkSecurityGroup: {
            id: integrationNsg.id
          }
          // Flex Consumption integrates through a subnet delegated to this service.
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
          // Service endpoints let the storage and Key Vault firewalls admit this
          // subnet when private endpoints are off. None for Service Bus: it admits
          // virtual networks only on Premium, where the app uses a private endpoint.
          serviceEndpoints: [
            {
              service: 'Microsoft.Storage'
            }
            {
              service: 'Microsoft.KeyVault'
            }
          ]
        }
      }
      {
        name: 'snet-private-endpoints'
        properties: {
          addressPrefix: privateEndpointSubnetPrefix
          networkSecurityGroup: {
            id: privateEndpointNsg.id
          }
          privateEndpointNetworkPolicies: 'Enabled'
        }
      }
    ]
  }
}

resource hubPeering 'Microsoft.Network/virtualNetworks/virtualNetworkPeerings@2024-05-01' = if (!empty(hubVirtualNetworkId)) {
  parent: vnet
  name: 'peer-to-hub'
  properties: {
    remoteVirtualNetwork: {
      id: hubVirtualNetworkId
    }
    allowVirtualNetworkAccess: true
    allowForwardedTraffic: true
    // The hub's gateway carries the route to the on-premises interface engine. A
    // parameter, because Azure rejects it until the platform team has created the
    // hub side of the peering with gateway transit (infra/README.md, checklist).
    useRemoteGateways: hubUseRemoteGateways
  }
}

output vnetId string = vnet.id
output integrationSubnetId string = '${vnet.id}/subnets/snet-functions'
output privateEndpointSubnetId string = '${vnet.id}/subnets/snet-private-endpoints'
