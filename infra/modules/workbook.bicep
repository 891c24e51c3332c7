// The operators' workbook: bookings in flight, sync lag, ACK codes, dead letters by
// reason. Its content is infra/workbooks/operations.workbook.json (edit it in the
// portal's advanced editor and paste it back); only the resource ids are filled in.

@description('Administration code, shown in the title.')
param administration string

@description('Azure region.')
param location string

@description('Tags put on the resource.')
param tags object

@description('Application Insights component the queries run against.')
param appInsightsId string

@description('Service Bus namespace whose queue metrics are charted.')
param serviceBusId string

var content = loadTextContent('../workbooks/operations.workbook.json')

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  // A workbook's name must be a GUID; stable per resource group so redeploys update it.
  name: guid(resourceGroup().id, 'orbit-millennium-operations')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'Orbit-Millennium operations (${administration})'
    category: 'workbook'
    sourceId: appInsightsId
    serializedData: replace(replace(content, '__APP_INSIGHTS_ID__', appInsightsId), '__SERVICE_BUS_ID__', serviceBusId)
  }
}

output id string = workbook.id
