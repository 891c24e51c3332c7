// Alert rules for operations, each with a runbook link (docs/operations.md, "Alerts").
//
// Designed not to flood: every rule is stateful (autoMitigate), so it fires once
// when its condition starts and resolves when it ends: one alert per incident, not
// one per evaluation. Metric rules watch Service Bus itself, so they also fire when
// the app is down and emits nothing.

@description('Name prefix of the rules.')
param name string

@description('Azure region of the log alert rules.')
param location string

@description('Tags put on every resource.')
param tags object

@description('Application Insights component the log rules query.')
param appInsightsId string

@description('Service Bus namespace the metric rules watch.')
param serviceBusId string

@description('E-mail addresses notified (the operations team\'s shared mailbox).')
param alertEmailAddresses array

@description('URL of docs/operations.md as published; the rules link to its anchors.')
param runbookBaseUrl string

@description('Failed executions in percent (15 minute window) that page.')
@minValue(1)
@maxValue(100)
param failureRatePercent int

@description('Worst sync lag in minutes (15 minute window) that pages.')
@minValue(1)
param syncLagThresholdMinutes int

@description('A work queue not empty for this long pages (its oldest message is at least this old).')
@allowed([
  'PT15M'
  'PT30M'
  'PT1H'
])
param queueAgeWindow string

@description('False in jumpout/off mode: nothing is synchronised, so no sync lag rule.')
param syncEnabled bool

var runbook = {
  deadLettersQueue: '${runbookBaseUrl}#alert-dead-letters-queue'
  serviceBusDeadLetters: '${runbookBaseUrl}#alert-service-bus-dead-letters'
  queueAge: '${runbookBaseUrl}#alert-queue-age'
  failureRate: '${runbookBaseUrl}#alert-failure-rate'
  syncLag: '${runbookBaseUrl}#alert-sync-lag'
}

var workQueues = [
  'orbit-events'
  'sync-encounter'
  'sync-appointment'
  'sync-bed'
]

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-${name}'
  location: 'global'
  tags: tags
  properties: {
    // At most 12 characters: 'orbitmil-su-prod' becomes 'omsu-prod'.
    groupShortName: take(replace(name, 'orbitmil-', 'om'), 12)
    enabled: true
    emailReceivers: [for (address, i) in alertEmailAddresses: {
      name: 'operations-${i}'
      emailAddress: address
      useCommonAlertSchema: true
    }]
  }
}

// Messages a worker gave up on (reason in the message); nothing consumes this queue.
resource deadLettersQueue 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'alert-${name}-dead-letters-queue'
  location: 'global'
  tags: tags
  properties: {
    description: 'Messages wait on the dead-letters queue. Runbook: ${runbook.deadLettersQueue}'
    severity: 1
    enabled: true
    scopes: [
      serviceBusId
    ]
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    autoMitigate: true
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'dead-letters-waiting'
          metricNamespace: 'Microsoft.ServiceBus/namespaces'
          metricName: 'ActiveMessages'
          dimensions: [
            {
              name: 'EntityName'
              operator: 'Include'
              values: [
                'dead-letters'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Maximum'
        }
      ]
    }
    actions: [
      {
        actionGroupId: actionGroup.id
        webHookProperties: {
          runbook: runbook.deadLettersQueue
        }
      }
    ]
  }
}

// Messages Service Bus itself dead-lettered (max delivery count, expiry) on any queue.
resource serviceBusDeadLetters 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'alert-${name}-service-bus-dead-letters'
  location: 'global'
  tags: tags
  properties: {
    description: 'Service Bus dead-lettered messages (delivery count or TTL exceeded). Runbook: ${runbook.serviceBusDeadLetters}'
    severity: 1
    enabled: true
    scopes: [
      serviceBusId
    ]
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    autoMitigate: true
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'dead-lettered'
          metricNamespace: 'Microsoft.ServiceBus/namespaces'
          metricName: 'DeadletteredMessages'
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Maximum'
        }
      ]
    }
    actions: [
      {
        actionGroupId: actionGroup.id
        webHookProperties: {
          runbook: runbook.serviceBusDeadLetters
        }
      }
    ]
  }
}

/*
  Age of the oldest active message. Service Bus has no age metric, so the rule uses
  the smallest ActiveMessages count over the window: if a work queue was never empty
  for the whole window, its oldest message has waited at least that long (at VGR's
  volumes queues drain within seconds). Scheduled retry kicks are not active, so a
  Millennium outage handled by backoff does not trip it; a stopped app does.
  Evaluated per work queue: at most one alert per queue per incident.
*/
resource queueAge 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'alert-${name}-queue-age'
  location: 'global'
  tags: tags
  properties: {
    description: 'A work queue has not been empty for ${queueAgeWindow}. Runbook: ${runbook.queueAge}'
    severity: 2
    enabled: true
    scopes: [
      serviceBusId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: queueAgeWindow
    autoMitigate: true
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'never-empty'
          metricNamespace: 'Microsoft.ServiceBus/namespaces'
          metricName: 'ActiveMessages'
          dimensions: [
            {
              name: 'EntityName'
              operator: 'Include'
              values: workQueues
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Minimum'
        }
      ]
    }
    actions: [
      {
        actionGroupId: actionGroup.id
        webHookProperties: {
          runbook: runbook.queueAge
        }
      }
    ]
  }
}

resource failureRate 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${name}-failure-rate'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'alert-${name}-failure-rate'
    description: 'More than ${failureRatePercent}% of function executions failed. Runbook: ${runbook.failureRate}'
    severity: 2
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: replace(loadTextContent('../alerts/failure-rate.kql'), '{failureRatePercent}', string(failureRatePercent))
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        actionGroup.id
      ]
      customProperties: {
        runbook: runbook.failureRate
      }
    }
  }
}

resource syncLag 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = if (syncEnabled) {
  name: 'alert-${name}-sync-lag'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'alert-${name}-sync-lag'
    description: 'Bookings take over ${syncLagThresholdMinutes} minutes to reach Millennium, or none converge while retries pile up. Runbook: ${runbook.syncLag}'
    severity: 2
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: replace(loadTextContent('../alerts/sync-lag.kql'), '{thresholdMs}', string(syncLagThresholdMinutes * 60000))
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        actionGroup.id
      ]
      customProperties: {
        runbook: runbook.syncLag
      }
    }
  }
}
