// Key Vault for the webhook and launch secrets and the MLLP TLS material.
//
// The template creates no secret and holds no secret value: operators put the
// values in (see infra/README.md, "Secrets"); the app reads them through Key Vault
// references in its app settings. Access is by Azure RBAC only.

@description('Vault name (3-24 characters).')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region.')
param location string

@description('Tags put on every resource.')
param tags object

@description('Subnet the app egresses from (admitted by the firewall through its service endpoint).')
param integrationSubnetId string

@description('True: no public endpoint; reached through a private endpoint only.')
param disablePublicNetworkAccess bool

@description('Principal id of the app identity (gets Key Vault Secrets User).')
param appPrincipalId string

@description('Object id of the Entra group that maintains the secrets; empty for none.')
param secretsOfficerGroupId string

@description('Principal type of secretsOfficerGroupId.')
param secretsOfficerPrincipalType string = 'Group'

@description('Public addresses (CIDR) operators reach the vault from when public access is on.')
param operatorAddressPrefixes array = []

var operatorIpRules = [for prefix in operatorAddressPrefixes: {
  value: prefix
}]

@description('Log Analytics workspace for the audit log.')
param workspaceId string

// Azure built-in roles by their published names (infra/builtin-roles.json).
var roles = loadJsonContent('../builtin-roles.json').roles
var secretsUser = roles['Key Vault Secrets User']
var secretsOfficer = roles['Key Vault Secrets Officer']

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_189: public access is Disabled when privateNetworking is on; otherwise the firewall denies all but the app's subnet and trusted Azure services.
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: disablePublicNetworkAccess ? 'Disabled' : 'Enabled'
    networkAcls: {
      defaultAction: 'Deny'
      bypass: 'AzureServices'
      virtualNetworkRules: [
        {
          id: integrationSubnetId
          ignoreMissingVnetServiceEndpoint: false
        }
      ]
      ipRules: disablePublicNetworkAccess ? [] : operatorIpRules
    }
  }
}

resource appReadsSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, appPrincipalId, secretsUser)
  scope: vault
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUser)
  }
}

resource officersMaintainSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(secretsOfficerGroupId)) {
  name: guid(vault.id, secretsOfficerGroupId, secretsOfficer)
  scope: vault
  properties: {
    principalId: secretsOfficerGroupId
    principalType: secretsOfficerPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsOfficer)
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: vault
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

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri
