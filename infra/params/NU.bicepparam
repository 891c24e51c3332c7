// NU-sjukvården (NU): go-live wave 3, mode 'off'.
// Rollout plan values: the rollout team edits wave and mode here (reviewed like code).
// Tenant-specific ids come from the pipeline's environment, never from this file.
using '../main.bicep'

param administration = 'NU'
param environmentName = 'prod'
param wave = 3
param mode = 'off'

// Millennium endpoints (on premises, reached through the hub).
param millenniumMllpHost = 'mllp-nu.millennium.vgr.internal'
param millenniumMllpPort = 6664
param millenniumMllpTls = true
// The interface engine's certificate is signed by VGR's internal CA (PEM in Key Vault).
param millenniumMllpCaBundleFromKeyVault = true
param millenniumMllpTimeoutSeconds = 10
param millenniumFhirBaseUrl = 'https://fhir.millennium.vgr.internal/r4/nu'
// Jump-out addresses (Millennium's chart launch, Orbit's booking view): empty until
// Cerner and Orbit's vendor give them; meanwhile that direction answers 503 naming it.
param millenniumWebUrl = ''
param orbitWebUrl = ''
param millenniumAddressPrefixes = [
  '10.100.20.0/24'
]

// Network: the administration's spoke, peered to the region's hub.
param vnetAddressPrefix = '10.212.4.0/24'
param integrationSubnetPrefix = '10.212.4.0/26'
param privateEndpointSubnetPrefix = '10.212.4.64/27'
param dnsServers = [
  '10.210.0.4'
  '10.210.0.5'
]
param hubVirtualNetworkId = readEnvironmentVariable('HUB_VNET_ID')
// The hub has an ExpressRoute gateway and its side of the peering allows gateway
// transit (platform team; infra/README.md, first deployment checklist).
param hubUseRemoteGateways = true
// Private endpoints + Service Bus Premium where the security review asks for them.
param privateNetworking = false
// Orbit's egress range and VGR's client networks (documentation ranges until the
// network team confirms the real ones before this wave's go-live).
param allowedInboundAddressPrefixes = [
  '192.0.2.0/24'
  '198.51.100.0/24'
]

// Operations.
param alertEmailAddresses = [
  readEnvironmentVariable('ALERT_EMAIL')
]
param secretsOfficerGroupId = readEnvironmentVariable('SECRETS_OFFICER_GROUP_ID')
param operatorsGroupId = readEnvironmentVariable('OPERATORS_GROUP_ID')

// Scale: Sweden Central has availability zones; zone redundancy keeps two
// always-ready instances (billed) for the webhook and the jump-out.
param zoneRedundant = true
param alwaysReadyHttpInstances = 2
param maximumInstanceCount = 40
