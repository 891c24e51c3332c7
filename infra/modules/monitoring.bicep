// Log Analytics workspace and a workspace-based Application Insights component.
//
// Local (key-based) ingestion is off: the app exports telemetry with its managed
// identity (APPLICATIONINSIGHTS_AUTHENTICATION_STRING), which needs the Monitoring
// Metrics Publisher role granted here.

@description('Name of the Log Analytics workspace.')
param workspaceName string

@description('Name of the Application Insights component.')
param appInsightsName string

@description('Azure region.')
param location string

@description('Tags put on every resource.')
param tags object

@description('Days Log Analytics keeps data (operations need at least a month of history).')
@minValue(30)
@maxValue(730)
param retentionDays int

@description('Principal id of the app identity (gets Monitoring Metrics Publisher).')
param appPrincipalId string

// Azure built-in roles by their published names (infra/builtin-roles.json).
var roles = loadJsonContent('../builtin-roles.json').roles
var monitoringMetricsPublisher = roles['Monitoring Metrics Publisher']

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: workspaceName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionDays
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
    IngestionMode: 'LogAnalytics'
  }
}

resource publishMetrics 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, appPrincipalId, monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
  }
}

output workspaceId string = workspace.id
output appInsightsId string = appInsights.id
output appInsightsName string = appInsights.name
