// A storage account reached only with Entra ID (no shared keys), plus its tables or
// blob containers and the app identity's data-plane roles on it.
//
// Used twice: the crosswalk account (tables, Storage Table Data Contributor) and the
// Functions host account (deployment package container and host leases, Storage
// Blob Data Owner). Two accounts so the identity's blob rights never reach the
// crosswalk, which holds booking snapshots.

@description('Account name (3-24 lower-case letters and digits).')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region.')
param location string

@description('Tags put on every resource.')
param tags object

@description('Replication: zone- and geo-redundant (the paired region, Sweden South, stays in Sweden).')
@allowed([
  'Standard_GZRS'
  'Standard_RAGZRS'
])
param skuName string = 'Standard_GZRS'

@description('Tables to create (crosswalk account).')
param tableNames array = []

@description('Blob containers to create (host account).')
param containerNames array = []

@description('Built-in role names (keys of infra/builtin-roles.json) the app identity gets on this account.')
param appRoleNames array

@description('Principal id of the app identity.')
param appPrincipalId string

@description('Entra group (object id) of the operators; empty for none.')
param operatorsGroupId string = ''

@description('Built-in role names (keys of infra/builtin-roles.json) the operators group gets on this account.')
param operatorRoleNames array = []

@description('Subnet the app egresses from (admitted by the firewall through its service endpoint).')
param integrationSubnetId string

@description('True: no public endpoint; reached through private endpoints only.')
param disablePublicNetworkAccess bool

@description('Public addresses (CIDR) operators reach the account from when public access is on.')
param operatorAddressPrefixes array = []

// Storage takes no /31 or /32 range: a single address goes in as it is.
var operatorIpRules = [for prefix in operatorAddressPrefixes: {
  value: replace(prefix, '/32', '')
  action: 'Allow'
}]

@description('Log Analytics workspace for data-plane audit logs.')
param workspaceId string

// Azure built-in roles by their published names (infra/builtin-roles.json).
var roles = loadJsonContent('../builtin-roles.json').roles

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    // Identity-based access only: account keys and SAS cannot be used.
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    supportsHttpsTrafficOnly: true
    minimumTlsVersion: 'TLS1_2'
    publicNetworkAccess: disablePublicNetworkAccess ? 'Disabled' : 'Enabled'
    networkAcls: {
      defaultAction: 'Deny'
      bypass: 'AzureServices'
      virtualNetworkRules: [
        {
          id: integrationSubnetId
          action: 'Allow'
        }
      ]
      ipRules: disablePublicNetworkAccess ? [] : operatorIpRules
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
          keyType: 'Account'
        }
        table: {
          enabled: true
          keyType: 'Account'
        }
        queue: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource table 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [for tableName in tableNames: {
  parent: tableService
  name: tableName
}]

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource container 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [for containerName in containerNames: {
  parent: blobService
  name: containerName
  properties: {
    publicAccess: 'None'
  }
}]

resource appRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleName in appRoleNames: {
  name: guid(account.id, appPrincipalId, roles[roleName])
  scope: account
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles[roleName])
  }
}]

resource operatorRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleName in (empty(operatorsGroupId) ? [] : operatorRoleNames): {
  name: guid(account.id, operatorsGroupId, roles[roleName])
  scope: account
  properties: {
    principalId: operatorsGroupId
    principalType: 'Group'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles[roleName])
  }
}]

// Audit of every read and write: the crosswalk holds booking snapshots.
resource tableDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: tableService
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        categoryGroup: 'audit'
        enabled: true
      }
    ]
  }
}

resource blobDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: blobService
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        categoryGroup: 'audit'
        enabled: true
      }
    ]
  }
}

output id string = account.id
output name string = account.name
output tableEndpoint string = account.properties.primaryEndpoints.table
output blobEndpoint string = account.properties.primaryEndpoints.blob
