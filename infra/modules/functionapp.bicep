// The function app on a Flex Consumption plan, VNet-integrated, running as the
// user-assigned identity, with every app setting the code reads (shared/names.py).
//
// Every connection is identity-based: host names and endpoints, never keys. Secrets
// are Key Vault references, resolved by the platform with the same identity.

@description('Function app name (also the host name prefix).')
param name string

@description('Azure region.')
param location string

@description('Tags put on every resource.')
param tags object

@description('Resource id of the user-assigned identity.')
param identityId string

@description('Client id of the user-assigned identity.')
param identityClientId string

@description('Subnet (delegated to Microsoft.App/environments) the app egresses from.')
param integrationSubnetId string

@description('Host storage account (Functions runtime and deployment package).')
param hostStorageName string

@description('Blob endpoint of the host storage account.')
param hostBlobEndpoint string

@description('Container in the host storage account that holds the deployment package.')
param deploymentContainerName string

@description('Application Insights component the app reports to.')
param appInsightsName string

@description('URI of the Key Vault that holds the secrets (ends with a slash).')
param keyVaultUri string

@description('Host name of the Service Bus namespace.')
param serviceBusFullyQualifiedNamespace string

@description('Table endpoint of the crosswalk storage account.')
param crosswalkTableEndpoint string

@description('Host of Millennium\'s inbound MLLP interface.')
param millenniumMllpHost string

@description('Port of Millennium\'s inbound MLLP interface.')
param millenniumMllpPort int

@description('Wrap MLLP in TLS.')
param millenniumMllpTls bool

@description('True: MILLENNIUM_MLLP_CA_BUNDLE references Key Vault secret millennium-mllp-ca-bundle (PEM); false: the system trust store.')
param millenniumMllpCaBundleFromKeyVault bool

@description('Seconds to wait for an ACK before a send is in doubt.')
param millenniumMllpTimeoutSeconds int

@description('MLLP connections of the whole stamp (the link budget).')
param millenniumMllpMaxConnections int

@description('Most HL7 messages a second for the whole stamp (0: no cap).')
param millenniumMllpMaxMessagesPerSecond int

@description('Seconds an idle MLLP connection stays open.')
param millenniumMllpIdleSeconds int

@description('Seconds a send waits for a connection of the budget.')
param millenniumMllpLinkWaitSeconds int

@description('Pace of a go-live\'s kicks, bookings a second.')
param goLiveBookingsPerSecond int

@description('Days a webhook delivery\'s idempotency row is kept.')
param retentionDeliveriesDays int

@description('Days unfollowed launch codes and signed launch requests are kept.')
param retentionLaunchCodesDays int

@description('Days audit rows are kept (at least 1827), or \'off\'.')
param retentionAuditDays string

@description('FHIR R4 base URL for the jump-out\'s Patient lookup.')
param millenniumFhirBaseUrl string

@description('Base https address of Millennium\'s chart launch (launch templates\' MILLENNIUM_WEB_URL).')
param millenniumWebUrl string

@description('Base https address of Orbit\'s booking view (launch templates\' ORBIT_WEB_URL).')
param orbitWebUrl string

@description('OAuth2 token endpoint of Millennium\'s FHIR API (client credentials grant).')
param millenniumFhirTokenUrl string

@description('OAuth2 client id of this app at Millennium\'s FHIR API (not a secret).')
param millenniumFhirClientId string

@description('OAuth2 scopes the app asks Millennium\'s FHIR API for.')
param millenniumFhirScope string

@description('MSH-11 processing id: P in production, T elsewhere.')
@allowed([
  'P'
  'T'
])
param hl7ProcessingId string

@description('Public https address browsers reach this stamp at; launch links are built on it (never on a request\'s Host header). Empty: the app\'s default host name.')
param publicBaseUrl string = ''

@description('Most instances the app may scale out to (Flex Consumption: 40 to 1000 outside preview regions).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int

@description('Spread the plan over availability zones (regions with zones only; at least two always-ready instances).')
param zoneRedundant bool

@description('Administration codes this stamp accepts events and launches for (ADMINISTRATIONS).')
@minLength(1)
param administrations array

@description('Instances kept warm for the HTTP functions (webhook, launch); 0 allows a cold start.')
@minValue(0)
@maxValue(10)
param alwaysReadyHttpInstances int

@description('CIDR ranges allowed to call the app (Orbit egress, VGR client networks); empty allows all.')
param allowedInboundAddressPrefixes array

var inboundRules = [for (prefix, i) in allowedInboundAddressPrefixes: {
  name: 'allow-${i}'
  ipAddress: prefix
  action: 'Allow'
  priority: 100 + i
}]

var secretReference = '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/'

// A zone-redundant Flex plan keeps at least two always-ready instances; say so here
// rather than let the platform round up silently.
var alwaysReadyHttp = zoneRedundant ? max(alwaysReadyHttpInstances, 2) : alwaysReadyHttpInstances

// The health check path (GET /api/health, anonymous, no personal data): where the
// platform honours it, an instance that answers 503 is taken out of rotation
// (verified on the first deployment: infra/README.md, checklist step 10).
var healthCheckPath = '/api/health'

/*
  App settings as the name/value list siteConfig takes. Every name the code reads is
  in shared/names.py; a test compares that list with the names here, both ways.
*/
var appSettings = [
  // Functions host: identity-based host storage.
  {
    name: 'AzureWebJobsStorage__accountName'
    value: hostStorageName
  }
  {
    name: 'AzureWebJobsStorage__credential'
    value: 'managedidentity'
  }
  {
    name: 'AzureWebJobsStorage__clientId'
    value: identityClientId
  }
  // Telemetry: Entra ID authenticated export (local auth is off on the component).
  {
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
    value: appInsights.properties.ConnectionString
  }
  {
    name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
    value: 'ClientId=${identityClientId};Authorization=AAD'
  }
  {
    name: 'AZURE_CLIENT_ID'
    value: identityClientId
  }
  // Service Bus: triggers and senders share this identity-based connection.
  {
    name: 'ServiceBusConnection__fullyQualifiedNamespace'
    value: serviceBusFullyQualifiedNamespace
  }
  {
    name: 'ServiceBusConnection__credential'
    value: 'managedidentity'
  }
  {
    name: 'ServiceBusConnection__clientId'
    value: identityClientId
  }
  {
    name: 'QUEUE_BACKEND'
    value: 'servicebus'
  }
  {
    name: 'CROSSWALK_BACKEND'
    value: 'table'
  }
  {
    name: 'CROSSWALK_TABLE_ENDPOINT'
    value: crosswalkTableEndpoint
  }
  // Secrets: Key Vault references (latest version; rotation needs no deployment).
  {
    name: 'ORBIT_WEBHOOK_SECRETS'
    value: '${secretReference}orbit-webhook-secrets/)'
  }
  {
    name: 'LAUNCH_SECRETS_ORBIT'
    value: '${secretReference}launch-secrets-orbit/)'
  }
  {
    name: 'LAUNCH_SECRETS_MILLENNIUM'
    value: '${secretReference}launch-secrets-millennium/)'
  }
  {
    name: 'LAUNCH_LOOKUP_SECRET'
    value: '${secretReference}launch-lookup-secret/)'
  }
  {
    name: 'MILLENNIUM_FHIR_SECRET'
    value: '${secretReference}millennium-fhir-secret/)'
  }
  {
    name: 'OPS_ADMIN_SECRETS'
    value: '${secretReference}ops-admin-secrets/)'
  }
  // Where browsers come back to (launch links); behind a gateway, its address.
  {
    name: 'PUBLIC_BASE_URL'
    value: empty(publicBaseUrl) ? 'https://${name}.azurewebsites.net' : publicBaseUrl
  }
  // Millennium endpoints of this administration.
  {
    name: 'MILLENNIUM_MLLP_HOST'
    value: millenniumMllpHost
  }
  {
    name: 'MILLENNIUM_MLLP_PORT'
    value: string(millenniumMllpPort)
  }
  {
    name: 'MILLENNIUM_MLLP_TLS'
    value: millenniumMllpTls ? 'on' : 'off'
  }
  {
    // A private CA bundle (PEM) for the interface engine's certificate, or empty
    // for the system trust store. An unresolved reference switches MLLP off.
    name: 'MILLENNIUM_MLLP_CA_BUNDLE'
    value: millenniumMllpCaBundleFromKeyVault ? '${secretReference}millennium-mllp-ca-bundle/)' : ''
  }
  {
    name: 'MILLENNIUM_MLLP_TIMEOUT_SECONDS'
    value: string(millenniumMllpTimeoutSeconds)
  }
  {
    name: 'MILLENNIUM_MLLP_MAX_CONNECTIONS'
    value: string(millenniumMllpMaxConnections)
  }
  {
    name: 'MILLENNIUM_MLLP_MAX_MESSAGES_PER_SECOND'
    value: string(millenniumMllpMaxMessagesPerSecond)
  }
  {
    name: 'MILLENNIUM_MLLP_IDLE_SECONDS'
    value: string(millenniumMllpIdleSeconds)
  }
  {
    name: 'MILLENNIUM_MLLP_LINK_WAIT_SECONDS'
    value: string(millenniumMllpLinkWaitSeconds)
  }
  {
    // The link budget's lease blobs live in the host storage account.
    name: 'MILLENNIUM_LINK_LEASE_ACCOUNT_URL'
    value: hostBlobEndpoint
  }
  {
    name: 'GO_LIVE_BOOKINGS_PER_SECOND'
    value: string(goLiveBookingsPerSecond)
  }
  // The nightly clean-up's ages (shared/retention/policy.py; docs/operations.md, Retention).
  {
    name: 'RETENTION_DELIVERIES_DAYS'
    value: string(retentionDeliveriesDays)
  }
  {
    name: 'RETENTION_LAUNCH_CODES_DAYS'
    value: string(retentionLaunchCodesDays)
  }
  {
    name: 'RETENTION_AUDIT_DAYS'
    value: retentionAuditDays
  }
  {
    name: 'MILLENNIUM_FHIR_BASE_URL'
    value: millenniumFhirBaseUrl
  }
  {
    name: 'MILLENNIUM_WEB_URL'
    value: millenniumWebUrl
  }
  {
    name: 'ORBIT_WEB_URL'
    value: orbitWebUrl
  }
  {
    name: 'MILLENNIUM_FHIR_TOKEN_URL'
    value: millenniumFhirTokenUrl
  }
  {
    name: 'MILLENNIUM_FHIR_CLIENT_ID'
    value: millenniumFhirClientId
  }
  {
    name: 'MILLENNIUM_FHIR_SCOPE'
    value: millenniumFhirScope
  }
  // The package's profiles/ folder. Relative: the app must resolve it against its
  // own folder, not the worker's working directory.
  {
    name: 'ADMINISTRATION_PROFILES'
    value: 'profiles'
  }
  {
    name: 'HL7_PROCESSING_ID'
    value: hl7ProcessingId
  }
  // Stamp scoping: events and launches for any other administration get 422.
  {
    name: 'ADMINISTRATIONS'
    value: join(administrations, ' ')
  }
]

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

/*
  Flex Consumption, not Elastic Premium: both integrate with a VNet (MLLP must reach
  the on-premises interface engine), but Flex reads its host storage and deployment
  package with the managed identity, so the storage accounts keep shared-key access
  off. Elastic Premium needs an Azure Files content share mounted with an account
  key. Flex also scales each Service Bus function on its own and keeps the HTTP
  functions warm with always-ready instances. See infra/README.md.
*/
resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: zoneRedundant is a per-stamp parameter, on in the production stamps (Sweden Central has zones); off where a region has none (Azure answers 400) or a developer stamp must scale to zero.
  name: 'plan-${name}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
    // A parameter: regions without zones answer 400, and zone redundancy bills
    // always-ready instances, so a developer stamp would never scale to zero.
    zoneRedundant: zoneRedundant
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: Orbit's webhook and clinicians' browsers (jump-out) must reach the app; inbound is limited by ipSecurityRestrictions to allowedInboundAddressPrefixes.
  // checkov:skip=CKV_AZURE_17: Orbit authenticates with Standard Webhooks signatures and browsers follow launch links; neither presents a client certificate.
  // checkov:skip=CKV_AZURE_212: Flex Consumption has no fixed worker count; the platform scales instances (maximumInstanceCount) and keeps alwaysReadyHttpInstances warm.
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    publicNetworkAccess: 'Enabled'
    virtualNetworkSubnetId: integrationSubnetId
    keyVaultReferenceIdentity: identityId
    clientCertEnabled: false
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${hostBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: 2048
        alwaysReady: alwaysReadyHttp > 0 ? [
          {
            name: 'http'
            instanceCount: alwaysReadyHttp
          }
        ] : []
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      remoteDebuggingEnabled: false
      healthCheckPath: healthCheckPath
      ipSecurityRestrictions: inboundRules
      ipSecurityRestrictionsDefaultAction: empty(allowedInboundAddressPrefixes) ? 'Allow' : 'Deny'
      // Deployments come through the SCM site with Entra ID tokens (publishing
      // credentials are off below), so it does not inherit the app's IP list.
      scmIpSecurityRestrictionsUseMain: false
      cors: {
        allowedOrigins: []
      }
      appSettings: appSettings
    }
  }
}

// Publishing with user names and passwords is off: deployments use Entra ID.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

// No diagnostic setting on the site: Flex Consumption does not support them
// (Microsoft Learn, "Azure Functions Flex Consumption plan hosting", considerations).
// The app's logs and traces reach Log Analytics through Application Insights.

output id string = site.id
output name string = site.name
output defaultHostName string = site.properties.defaultHostName
