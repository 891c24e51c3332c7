// Service Bus namespace and the integration's queues (names: shared/names.py).
//
// Every queue is session-enabled: the session id is the Orbit booking id, so work on
// one booking is ordered and never blocks another (brief §3 principle 6).

@description('Name of the namespace.')
param name string

@description('Azure region.')
param location string

@description('Tags put on every resource.')
param tags object

@description('Standard, or Premium when the administration needs private endpoints.')
@allowed([
  'Standard'
  'Premium'
])
param sku string

@description('True: no public endpoint (Premium only); reached through a private endpoint.')
param privateNetworking bool

@description('Principal id of the app identity (gets Data Sender / Data Receiver per queue).')
param appPrincipalId string

@description('Log Analytics workspace for operational logs and metrics.')
param workspaceId string

@description('Entra group (object id) of the operators who inspect and resubmit dead letters; empty for none.')
param operatorsGroupId string

/*
  Queue settings, chosen deliberately:

  * maxDeliveryCount 5: the workers never burn delivery counts on outages (brief §3
    principle 5): a transient failure completes the message and schedules a fresh
    kick with backoff. A message is redelivered only after a crash, a lost lock or a
    bug, and five of those in a row mean the message itself is the problem.
  * lockDuration 1 minute: longest legitimate work on one message is a few MLLP
    round trips (ACK timeout 10 s each) plus table writes; the Functions host renews
    the lock while the function runs. A short lock means a crashed instance's
    session is picked up by another instance within a minute.
  * duplicate detection 10 minutes: MessageIds are deterministic (brief §3
    principle 3), so a resend after a timeout is dropped. Kept short so a deliberate
    later kick with the same id is not swallowed; the webhook idempotency table
    covers Orbit's longer retries.
  * dead-letter on expiry: nothing disappears silently; the dead-letter alert fires.
  * TTL 14 days on work queues (far beyond any retry backoff). The dead-letters
    queue has no consumer: its messages wait for an operator, so they live 30 days,
    long enough for a holiday, bounded because they may carry a booking snapshot.
*/
var queues = [
  {
    name: 'orbit-events'
    appReceives: true
    timeToLive: 'P14D'
  }
  {
    name: 'sync-encounter'
    appReceives: true
    timeToLive: 'P14D'
  }
  {
    name: 'sync-appointment'
    appReceives: true
    timeToLive: 'P14D'
  }
  {
    name: 'sync-bed'
    appReceives: true
    timeToLive: 'P14D'
  }
  {
    name: 'dead-letters'
    appReceives: false
    timeToLive: 'P30D'
  }
]

// Azure built-in roles by their published names (infra/builtin-roles.json).
var roles = loadJsonContent('../builtin-roles.json').roles
var dataSender = roles['Azure Service Bus Data Sender']
var dataReceiver = roles['Azure Service Bus Data Receiver']
var dataOwner = roles['Azure Service Bus Data Owner']

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: name
  location: location
  tags: tags
  sku: sku == 'Premium' ? {
    name: 'Premium'
    tier: 'Premium'
    capacity: 1
  } : {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    // Identity-based access only: no SAS keys can be used against this namespace.
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
  }
}

resource queue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = [for q in queues: {
  parent: namespace
  name: q.name
  properties: {
    requiresSession: true
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: 'PT10M'
    deadLetteringOnMessageExpiration: true
    maxDeliveryCount: 5
    lockDuration: 'PT1M'
    defaultMessageTimeToLive: q.timeToLive
    enableBatchedOperations: true
    enablePartitioning: false
    maxSizeInMegabytes: 1024
  }
}]

// Per queue, never the namespace: the app sends to every queue (webhook, fan-out,
// rescheduled kicks, dead letters) and is triggered by all but dead-letters.
resource sendRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (q, i) in queues: {
  name: guid(queue[i].id, appPrincipalId, dataSender)
  scope: queue[i]
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', dataSender)
  }
}]

// The queues the app is triggered by (all but dead-letters, which waits for operators).
var receivedQueues = filter(queues, q => q.appReceives)

resource receivedQueue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' existing = [for q in receivedQueues: {
  parent: namespace
  name: q.name
}]

/*
  Data Owner, not Data Receiver, on each triggering queue: the Functions
  documentation lists Azure Service Bus Data Owner for the Service Bus trigger with
  an identity-based connection, because the scale controller reads the queue's
  message counts (a manage operation); with receive rights only it cannot, and
  scales less accurately. Scoped to the one queue, never the namespace. The cost:
  the identity may also change or delete that queue (the app never calls the
  management plane; a redeploy restores the queue's settings). infra/README.md,
  "Roles", says so for the security review.
*/
resource receiveRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (q, i) in receivedQueues: {
  name: guid(receivedQueue[i].id, appPrincipalId, dataOwner)
  scope: receivedQueue[i]
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', dataOwner)
  }
  dependsOn: [
    queue
  ]
}]

// Operators peek dead letters (any queue's sub-queue and dead-letters) and resubmit
// them to the queue they came from.
resource operatorRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in (empty(operatorsGroupId) ? [] : [
  dataSender
  dataReceiver
]): {
  name: guid(namespace.id, operatorsGroupId, roleId)
  scope: namespace
  properties: {
    principalId: operatorsGroupId
    principalType: 'Group'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
  }
}]

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: namespace
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

output id string = namespace.id
output name string = namespace.name
// Identity-based connection: the host name, never a connection string.
output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'
