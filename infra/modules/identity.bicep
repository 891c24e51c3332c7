// The one user-assigned managed identity the function app runs as.
//
// User-assigned (not system-assigned) so role assignments can be created before the
// app exists and survive a re-creation of the app: no window in which the app runs
// without its permissions.

@description('Resource name of the identity.')
param name string

@description('Azure region.')
param location string

@description('Tags put on the resource.')
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
