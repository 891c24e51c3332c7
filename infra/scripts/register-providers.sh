#!/usr/bin/env bash
# Registers the resource providers a stamp needs in the stamp's subscription, and
# says which were missing. The subscription is azd's AZURE_SUBSCRIPTION_ID when set
# (azd deploys there, whatever the CLI's default is), else the CLI's current one. A fresh subscription has Microsoft.App unregistered, and
# Flex Consumption's VNet integration (subnet delegated to Microsoft.App/environments)
# fails without it. Registering needs Microsoft.*/register/action on the
# subscription (Contributor has it); with --check-only the script only reports.
#
#   infra/scripts/register-providers.sh               # register what is missing
#   infra/scripts/register-providers.sh --check-only  # exit 1 if any is missing
set -euo pipefail

PROVIDERS=(
  Microsoft.App                 # Flex Consumption VNet integration (subnet delegation)
  Microsoft.Web                 # Flex Consumption plan and the function app
  Microsoft.ServiceBus
  Microsoft.Storage
  Microsoft.KeyVault
  Microsoft.Network
  Microsoft.ManagedIdentity
  Microsoft.Insights
  Microsoft.OperationalInsights
)

check_only=false
[ "${1:-}" = "--check-only" ] && check_only=true

subscription="${AZURE_SUBSCRIPTION_ID:-}"
if [ -z "$subscription" ]; then
  subscription=$(az account show --query id --output tsv) || {
    echo "no subscription: set AZURE_SUBSCRIPTION_ID or run 'az login'" >&2
    exit 2
  }
fi
echo "subscription $subscription"

missing=0
for provider in "${PROVIDERS[@]}"; do
  state=$(az provider show --namespace "$provider" --query registrationState --output tsv \
    --subscription "$subscription")
  if [ "$state" = "Registered" ]; then
    echo "$provider: Registered"
    continue
  fi
  if $check_only; then
    echo "$provider: $state (not registered; run infra/scripts/register-providers.sh)" >&2
    missing=1
  else
    echo "$provider: $state -> registering"
    az provider register --namespace "$provider" --wait --subscription "$subscription"
  fi
done
exit "$missing"
