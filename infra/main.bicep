// One stamp of the Orbit -> Millennium integration for ONE hospital administration
// (förvaltning), deployed into its own resource group at the administration's
// go-live wave. Parameters per administration: infra/params/<CODE>.bicepparam.
// What each parameter means and how a wave is rolled out: infra/README.md.

targetScope = 'resourceGroup'

// --- Who and when ---

@description('Administration code, as in profiles/<CODE>.toml (SU, SAS, SKAS, NU, SIV).')
@minLength(2)
@maxLength(10)
param administration string

@description('Environment: prod sends MSH-11 = P, anything else T.')
@allowed([
  'dev'
  'test'
  'prod'
])
param environmentName string

@description('Go-live wave (driftstart) the administration belongs to; 0 for developer stamps.')
@minValue(0)
@maxValue(20)
param wave int

@description('off: webhooks refused; jumpout: stage 1, snapshots kept, nothing sent; integrated: stage 2.')
@allowed([
  'off'
  'jumpout'
  'integrated'
])
param mode string

@description('Azure region.')
param location string = resourceGroup().location

@description('Extra tags (cost centre and the like).')
param tags object = {}

// --- Millennium endpoints of this administration ---

@description('Host of Millennium\'s inbound MLLP interface (on premises, through the hub).')
param millenniumMllpHost string

@description('Port of Millennium\'s inbound MLLP interface.')
@minValue(1)
@maxValue(65535)
param millenniumMllpPort int

@description('Wrap MLLP in TLS.')
param millenniumMllpTls bool = true

@description('True: the MLLP TLS server certificate is checked against a private CA bundle (PEM) kept in Key Vault as secret millennium-mllp-ca-bundle; false: against the system trust store.')
param millenniumMllpCaBundleFromKeyVault bool = false

@description('Seconds to wait for an ACK before a send is in doubt.')
@minValue(1)
@maxValue(120)
param millenniumMllpTimeoutSeconds int = 10

// --- The Millennium link's budget (whole stamp; agree the numbers with Cerner) ---

@description('MLLP connections the whole stamp may hold to Millennium\'s inbound interface, however far it scales (blob leases in the host storage account enforce it).')
@minValue(1)
@maxValue(16)
param millenniumMllpMaxConnections int = 1

@description('Most HL7 messages a second the whole stamp sends (0: as fast as Millennium answers).')
@minValue(0)
param millenniumMllpMaxMessagesPerSecond int = 0

@description('Seconds an unused MLLP connection stays open before it is closed and its slot released.')
@minValue(5)
param millenniumMllpIdleSeconds int = 60

@description('Seconds a send waits for a connection of the budget before it is rescheduled (kept well under the 60 s Service Bus lock).')
@minValue(1)
@maxValue(40)
param millenniumMllpLinkWaitSeconds int = 15

@description('Pace of a go-live\'s kicks (bookings a second), so live changes reach Millennium first.')
@minValue(1)
param goLiveBookingsPerSecond int = 20

@description('Days a webhook delivery\'s idempotency row is kept: longer than Orbit retries a delivery (Standard Webhooks: up to about 3 days).')
@minValue(3)
param retentionDeliveriesDays int = 7

@description('Days unfollowed launch codes and signed launch requests are kept after they expired.')
@minValue(1)
param retentionLaunchCodesDays int = 1

@description('Days audit rows (processing and access logs) are kept, at least 1827 (HSLF-FS 2016:40: five years), or \'off\' (never removed). Set it to the region\'s gallringsbeslut.')
param retentionAuditDays string = '3650'

@description('FHIR R4 base URL for the jump-out\'s Patient lookup.')
param millenniumFhirBaseUrl string

@description('Base https address of Millennium\'s chart launch for the profiles\' launch templates (MILLENNIUM_WEB_URL); empty: the jump-out to Millennium answers 503 naming the setting.')
param millenniumWebUrl string = ''

@description('Base https address of Orbit\'s booking view for the profiles\' launch templates (ORBIT_WEB_URL); empty: the jump-out to Orbit answers 503 naming the setting.')
param orbitWebUrl string = ''

@description('OAuth2 token endpoint of Millennium\'s FHIR API; agree it with Cerner before the jump-out goes live.')
param millenniumFhirTokenUrl string = ''

@description('OAuth2 client id of the app at Millennium\'s FHIR API (its secret is in Key Vault).')
param millenniumFhirClientId string = ''

@description('OAuth2 scopes for the jump-out\'s lookups.')
param millenniumFhirScope string = 'system/Patient.read system/Encounter.read'

// --- Network ---

@description('Address space of the administration\'s spoke VNet.')
param vnetAddressPrefix string

@description('Subnet the app egresses from (at least /27).')
param integrationSubnetPrefix string

@description('Subnet for private endpoints.')
param privateEndpointSubnetPrefix string

@description('DNS servers of the hub, at least two (they resolve the on-premises names).')
param dnsServers array

@description('Resource id of the hub VNet to peer with; empty for none (developer stamps).')
param hubVirtualNetworkId string = ''

@description('True: the peering routes through the hub\'s VPN/ExpressRoute gateway (useRemoteGateways). Needs the hub side of the peering with allowGatewayTransit first; see infra/README.md.')
param hubUseRemoteGateways bool = false

@description('stamp: the privatelink DNS zones are created here and linked to the spoke (only with Azure-provided DNS, dnsServers empty). central: the zones already exist in privateDnsZoneResourceGroupId, linked where the hub\'s resolvers are.')
@allowed([
  'stamp'
  'central'
])
param privateDnsZoneMode string = 'stamp'

@description('Resource group id (/subscriptions/…/resourceGroups/…) holding the central privatelink zones; only with privateDnsZoneMode central.')
param privateDnsZoneResourceGroupId string = ''

@description('CIDR ranges of Millennium\'s interface engine and FHIR endpoint.')
param millenniumAddressPrefixes array

@description('CIDR ranges allowed to call the app: Orbit\'s egress and VGR\'s client networks.')
param allowedInboundAddressPrefixes array

@description('True: Service Bus Premium and private endpoints; no public data-plane endpoints.')
param privateNetworking bool = false

// --- Operations ---

@description('E-mail addresses the alerts go to.')
param alertEmailAddresses array = []

@description('Entra group (object id) that maintains the Key Vault secrets; empty for none. On a developer stamp (azd) the deploying user.')
param secretsOfficerGroupId string = ''

@description('What secretsOfficerGroupId is: a group for the administrations\' stamps, the user on a developer stamp.')
@allowed([
  'Group'
  'User'
  'ServicePrincipal'
])
param secretsOfficerPrincipalType string = 'Group'

@description('Where operators set secrets and read the crosswalk from: public egress addresses (CIDR) on a stamp with public endpoints (the firewalls\' IP rules take no private ranges), hub or on-premises ranges on a private one (the private endpoints\' NSG). Empty: only the app\'s subnet.')
param operatorAddressPrefixes array = []

@description('Entra group (object id) of the operators: dead letters and crosswalk (read); empty for none.')
param operatorsGroupId string = ''

@description('Published URL of docs/operations.md; alerts link to its anchors.')
param runbookBaseUrl string = 'https://github.com/vgregion/orbit-millennium/blob/main/docs/operations.md'

@description('Failed executions in percent that page.')
@minValue(1)
@maxValue(100)
param failureRatePercent int = 5

@description('Worst sync lag in minutes that pages.')
@minValue(1)
param syncLagThresholdMinutes int = 15

@description('A work queue not empty for this long pages.')
@allowed([
  'PT15M'
  'PT30M'
  'PT1H'
])
param queueAgeWindow string = 'PT30M'

@description('Days Log Analytics keeps data.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 90

@description('Most instances the app may scale out to. Flex Consumption accepts 40 to 1000 (lower values only in a few preview regions).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Spread the Flex plan over availability zones. Only in regions with zones; bills at least two always-ready instances, so a stamp never scales to zero.')
param zoneRedundant bool = false

@description('Instances kept warm for the webhook and the jump-out.')
@minValue(0)
@maxValue(10)
param alwaysReadyHttpInstances int = 1

// --- Names ---

var code = toLower(administration)
var suffix = take(uniqueString(subscription().id, resourceGroup().id, administration, environmentName), 6)
var baseName = 'orbitmil-${code}-${environmentName}'
var allTags = union(tags, {
  workload: 'orbit-millennium'
  administration: administration
  environment: environmentName
  wave: string(wave)
  mode: mode
})

// The crosswalk tables (names: shared/names.py, ALL_TABLES).
var crosswalkTables = [
  'bookings'
  'deliveries'
  'lookup'
  'launches'
  'retention'
]

var deploymentContainer = 'app-package'
// One blob per connection of the Millennium link budget (shared/names.py CONTAINER_LINK_LEASES).
var linkLeaseContainer = 'millennium-link'

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    name: 'id-${baseName}'
    location: location
    tags: allTags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    workspaceName: 'log-${baseName}'
    appInsightsName: 'appi-${baseName}'
    location: location
    tags: allTags
    retentionDays: logRetentionDays
    appPrincipalId: identity.outputs.principalId
  }
}

module network 'modules/network.bicep' = {
  name: 'network'
  params: {
    name: baseName
    location: location
    tags: allTags
    vnetAddressPrefix: vnetAddressPrefix
    integrationSubnetPrefix: integrationSubnetPrefix
    privateEndpointSubnetPrefix: privateEndpointSubnetPrefix
    dnsServers: dnsServers
    hubVirtualNetworkId: hubVirtualNetworkId
    hubUseRemoteGateways: hubUseRemoteGateways
    millenniumAddressPrefixes: millenniumAddressPrefixes
    millenniumMllpPort: millenniumMllpPort
    operatorAddressPrefixes: privateNetworking ? operatorAddressPrefixes : []
  }
}

module serviceBus 'modules/servicebus.bicep' = {
  name: 'servicebus'
  params: {
    name: 'sb-${baseName}-${suffix}'
    location: location
    tags: allTags
    // Private endpoints exist only on Premium; Standard has everything else we use.
    sku: privateNetworking ? 'Premium' : 'Standard'
    privateNetworking: privateNetworking
    appPrincipalId: identity.outputs.principalId
    workspaceId: monitoring.outputs.workspaceId
    operatorsGroupId: operatorsGroupId
  }
}

module crosswalkStorage 'modules/storage.bicep' = {
  name: 'storage-crosswalk'
  params: {
    name: take('stxw${code}${environmentName}${suffix}', 24)
    location: location
    tags: allTags
    tableNames: crosswalkTables
    // Role names as published (builtin-roles.json): reads and writes rows, nothing else.
    appRoleNames: [
      'Storage Table Data Contributor'
    ]
    appPrincipalId: identity.outputs.principalId
    // Operators read a booking's state and audit trail when they follow up an alert.
    operatorsGroupId: operatorsGroupId
    operatorRoleNames: [
      'Storage Table Data Reader'
    ]
    integrationSubnetId: network.outputs.integrationSubnetId
    disablePublicNetworkAccess: privateNetworking
    operatorAddressPrefixes: operatorAddressPrefixes
    workspaceId: monitoring.outputs.workspaceId
  }
}

module hostStorage 'modules/storage.bicep' = {
  name: 'storage-host'
  params: {
    name: take('sthost${code}${environmentName}${suffix}', 24)
    location: location
    tags: allTags
    containerNames: [
      deploymentContainer
      linkLeaseContainer
    ]
    // The Functions host keeps leases and keys in blobs and reads the package.
    appRoleNames: [
      'Storage Blob Data Owner'
    ]
    appPrincipalId: identity.outputs.principalId
    integrationSubnetId: network.outputs.integrationSubnetId
    // Stays reachable for the platform's deployment upload; the firewall still denies.
    disablePublicNetworkAccess: false
    workspaceId: monitoring.outputs.workspaceId
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    name: take('kv-${code}-${environmentName}-${suffix}', 24)
    location: location
    tags: allTags
    integrationSubnetId: network.outputs.integrationSubnetId
    disablePublicNetworkAccess: privateNetworking
    appPrincipalId: identity.outputs.principalId
    secretsOfficerGroupId: secretsOfficerGroupId
    secretsOfficerPrincipalType: secretsOfficerPrincipalType
    operatorAddressPrefixes: operatorAddressPrefixes
    workspaceId: monitoring.outputs.workspaceId
  }
}

module privateLink 'modules/private-link.bicep' = if (privateNetworking) {
  name: 'private-link'
  params: {
    location: location
    tags: allTags
    vnetId: network.outputs.vnetId
    subnetId: network.outputs.privateEndpointSubnetId
    zoneMode: privateDnsZoneMode
    centralZoneResourceGroupId: privateDnsZoneResourceGroupId
    endpoints: [
      {
        name: '${baseName}-servicebus'
        targetId: serviceBus.outputs.id
        groupId: 'namespace'
        zone: 'privatelink.servicebus.windows.net'
      }
      {
        name: '${baseName}-crosswalk'
        targetId: crosswalkStorage.outputs.id
        groupId: 'table'
        zone: 'privatelink.table.core.windows.net'
      }
      {
        name: '${baseName}-host'
        targetId: hostStorage.outputs.id
        groupId: 'blob'
        zone: 'privatelink.blob.core.windows.net'
      }
      {
        name: '${baseName}-keyvault'
        targetId: keyVault.outputs.id
        groupId: 'vault'
        zone: 'privatelink.vaultcore.azure.net'
      }
    ]
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    name: 'func-${baseName}-${suffix}'
    location: location
    tags: allTags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    integrationSubnetId: network.outputs.integrationSubnetId
    hostStorageName: hostStorage.outputs.name
    hostBlobEndpoint: hostStorage.outputs.blobEndpoint
    deploymentContainerName: deploymentContainer
    appInsightsName: monitoring.outputs.appInsightsName
    keyVaultUri: keyVault.outputs.uri
    serviceBusFullyQualifiedNamespace: serviceBus.outputs.fullyQualifiedNamespace
    crosswalkTableEndpoint: crosswalkStorage.outputs.tableEndpoint
    millenniumMllpHost: millenniumMllpHost
    millenniumMllpPort: millenniumMllpPort
    millenniumMllpTls: millenniumMllpTls
    millenniumMllpCaBundleFromKeyVault: millenniumMllpCaBundleFromKeyVault
    millenniumMllpTimeoutSeconds: millenniumMllpTimeoutSeconds
    millenniumMllpMaxConnections: millenniumMllpMaxConnections
    millenniumMllpMaxMessagesPerSecond: millenniumMllpMaxMessagesPerSecond
    millenniumMllpIdleSeconds: millenniumMllpIdleSeconds
    millenniumMllpLinkWaitSeconds: millenniumMllpLinkWaitSeconds
    goLiveBookingsPerSecond: goLiveBookingsPerSecond
    retentionDeliveriesDays: retentionDeliveriesDays
    retentionLaunchCodesDays: retentionLaunchCodesDays
    retentionAuditDays: retentionAuditDays
    millenniumFhirBaseUrl: millenniumFhirBaseUrl
    millenniumWebUrl: millenniumWebUrl
    orbitWebUrl: orbitWebUrl
    millenniumFhirTokenUrl: millenniumFhirTokenUrl
    millenniumFhirClientId: millenniumFhirClientId
    millenniumFhirScope: millenniumFhirScope
    hl7ProcessingId: environmentName == 'prod' ? 'P' : 'T'
    maximumInstanceCount: maximumInstanceCount
    zoneRedundant: zoneRedundant
    administrations: [
      administration
    ]
    alwaysReadyHttpInstances: alwaysReadyHttpInstances
    allowedInboundAddressPrefixes: allowedInboundAddressPrefixes
  }
  // The app resolves Key Vault references and opens Service Bus at start-up:
  // its identity's roles and (when on) the private endpoints must exist first.
  dependsOn: [
    privateLink
  ]
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    name: baseName
    location: location
    tags: allTags
    appInsightsId: monitoring.outputs.appInsightsId
    serviceBusId: serviceBus.outputs.id
    alertEmailAddresses: alertEmailAddresses
    runbookBaseUrl: runbookBaseUrl
    failureRatePercent: failureRatePercent
    syncLagThresholdMinutes: syncLagThresholdMinutes
    queueAgeWindow: queueAgeWindow
    syncEnabled: mode == 'integrated'
  }
}

module workbook 'modules/workbook.bicep' = {
  name: 'workbook'
  params: {
    administration: administration
    location: location
    tags: allTags
    appInsightsId: monitoring.outputs.appInsightsId
    serviceBusId: serviceBus.outputs.id
  }
}

output functionAppName string = functionApp.outputs.name
output functionAppHostName string = functionApp.outputs.defaultHostName
output keyVaultName string = keyVault.outputs.name
output serviceBusNamespace string = serviceBus.outputs.fullyQualifiedNamespace
output mode string = mode
output wave int = wave
// For infra/scripts/smoke_check.py: the host names that must resolve to private
// addresses inside privateEndpointSubnetPrefix when privateNetworking is on.
output privateNetworking bool = privateNetworking
output privateEndpointSubnetPrefix string = privateEndpointSubnetPrefix
output privateEndpointHostNames array = [
  serviceBus.outputs.fullyQualifiedNamespace
  split(split(crosswalkStorage.outputs.tableEndpoint, '//')[1], '/')[0]
  split(split(hostStorage.outputs.blobEndpoint, '//')[1], '/')[0]
  split(split(keyVault.outputs.uri, '//')[1], '/')[0]
]
