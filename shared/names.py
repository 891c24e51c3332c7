"""Names shared between the code and the infrastructure (`infra/`).

This module is the single list of app settings, queues and tables. A test reads
it on one side and the Bicep on the other, so a rename cannot drift between them.
"""

from __future__ import annotations

# --- Service Bus queues (all session-enabled; session id = Orbit booking id) ---
QUEUE_EVENTS = "orbit-events"
"""Accepted Orbit webhook events, waiting to be stored as the booking's snapshot."""
QUEUE_ENCOUNTER = "sync-encounter"
"""Kicks: 'the encounter of booking X may be out of sync'."""
QUEUE_APPOINTMENT = "sync-appointment"
"""Kicks: 'the appointment of booking X may be out of sync'."""
QUEUE_BED = "sync-bed"
"""Kicks: 'the bed booking of booking X may be out of sync'."""
QUEUE_DEAD_LETTERS = "dead-letters"
"""Messages the workers gave up on, with a reason (see docs/architecture.md)."""

SYNC_QUEUES: tuple[str, ...] = (QUEUE_ENCOUNTER, QUEUE_APPOINTMENT, QUEUE_BED)
ALL_QUEUES: tuple[str, ...] = (QUEUE_EVENTS, *SYNC_QUEUES, QUEUE_DEAD_LETTERS)

# --- Table storage tables ---
TABLE_BOOKINGS = "bookings"
"""Crosswalk: one partition per booking (snapshot, per-target state, audit)."""
TABLE_DELIVERIES = "deliveries"
"""Webhook idempotency: webhook-id → the original 202 result."""
TABLE_LOOKUP = "lookup"
"""Reverse lookup: Millennium ids → Orbit booking id."""
TABLE_LAUNCHES = "launches"
"""Jump-out: single-use launch codes and the audit of each launch."""
TABLE_RETENTION = "retention"
"""The clean-up's own state: where each sweep resumes (shared/retention/cursors.py)."""

ALL_TABLES: tuple[str, ...] = (
    TABLE_BOOKINGS,
    TABLE_DELIVERIES,
    TABLE_LOOKUP,
    TABLE_LAUNCHES,
    TABLE_RETENTION,
)

# --- App settings (environment variables) ---
SERVICE_BUS_CONNECTION = "ServiceBusConnection"
"""Prefix of the identity-based Service Bus connection used by triggers and senders."""
SETTING_SERVICE_BUS_NAMESPACE = f"{SERVICE_BUS_CONNECTION}__fullyQualifiedNamespace"
CONTAINER_LINK_LEASES = "millennium-link"
"""Blob container of the connection budget's lease slots (one blob per connection)."""

SETTINGS: dict[str, str] = {
    "HOST_PORT": "Port of the local run's HTTP host (default 7071).",
    "ORBIT_WEBHOOK_SECRETS": "Space-separated whsec_ secrets; any may sign a webhook.",
    "LAUNCH_SECRETS_ORBIT": "Space-separated whsec_ secrets for Orbit's launch requests.",
    "LAUNCH_SECRETS_MILLENNIUM": "Space-separated whsec_ secrets for Millennium's launch requests.",
    "MILLENNIUM_MLLP_HOST": "Host of Millennium's inbound MLLP interface.",
    "MILLENNIUM_MLLP_PORT": "Port of Millennium's inbound MLLP interface.",
    "MILLENNIUM_MLLP_TLS": "'on' to wrap MLLP in TLS (default off).",
    "MILLENNIUM_MLLP_CA_BUNDLE": (
        "CA bundle the MLLP TLS server certificate is checked against: a PEM file path, or "
        "PEM text (a Key Vault reference in Azure); empty: the system trust store."
    ),
    "MILLENNIUM_MLLP_TIMEOUT_SECONDS": "Seconds to wait for an ACK before a send is in doubt.",
    "MILLENNIUM_MLLP_MAX_CONNECTIONS": "Connections to Millennium for the whole stamp (default 1).",
    "MILLENNIUM_MLLP_MAX_MESSAGES_PER_SECOND": "Send rate cap of the whole stamp (0: none).",
    "MILLENNIUM_MLLP_IDLE_SECONDS": "Seconds an unused connection stays open (default 60).",
    "MILLENNIUM_MLLP_LINK_WAIT_SECONDS": "Seconds a send waits for a free connection (default 5).",
    "MILLENNIUM_LINK_LEASE_ACCOUNT_URL": "Blob endpoint of the link leases (host storage).",
    "GO_LIVE_BOOKINGS_PER_SECOND": "Pace of a go-live's kicks, so live changes go first (20).",
    "RETENTION_DELIVERIES_DAYS": (
        "Days a webhook delivery's idempotency row is kept (default 7, at least 3)."
    ),
    "RETENTION_LAUNCH_CODES_DAYS": (
        "Days unfollowed launch codes and signed launch requests are kept (default 1)."
    ),
    "RETENTION_AUDIT_DAYS": (
        "Days audit rows are kept (default 3650, at least 1827; 'off': never removed)."
    ),
    "MILLENNIUM_FHIR_BASE_URL": "FHIR R4 base URL for the jump-out's Patient lookup.",
    "MILLENNIUM_FHIR_TOKEN_URL": "OAuth2 token endpoint for the FHIR API (empty: no auth, local).",
    "MILLENNIUM_FHIR_CLIENT_ID": "OAuth2 client id of the app at Millennium's FHIR API.",
    "MILLENNIUM_FHIR_SECRET": "OAuth2 client secret for the FHIR API (Key Vault).",
    "MILLENNIUM_FHIR_SCOPE": "OAuth2 scope(s) asked for, e.g. 'system/Patient.read'.",
    "LAUNCH_LOOKUP_SECRET": "HMAC key for the jump-out's lookup cache keys (Key Vault).",
    "PUBLIC_BASE_URL": (
        "The stamp's public https address (scheme and host, e.g. "
        "https://func-orbit-su.azurewebsites.net): launch links are built on it, never on "
        "the request's Host header. The local run sets its own."
    ),
    "MILLENNIUM_WEB_URL": (
        "Base https address of Millennium's chart launch, for ${MILLENNIUM_WEB_URL} in the "
        "profiles' launch templates (empty: the jump-out to Millennium answers 503). The "
        "local run sets its simulator's."
    ),
    "ORBIT_WEB_URL": (
        "Base https address of Orbit's booking view, for ${ORBIT_WEB_URL} in the profiles' "
        "launch templates (empty: the jump-out to Orbit answers 503). The local run sets "
        "its simulator's."
    ),
    "OPS_ADMIN_SECRETS": "Space-separated operators' keys for the ops endpoints (Key Vault).",
    "SIMULATOR": "'on' (default) starts the Millennium simulator in the local run.",
    "SIMULATOR_HTTP_PORT": "Port of the local simulator's HTTP side (default 8090; 0: free).",
    "SIMULATOR_RESET": "'on' starts the local simulator's Millennium empty (default off).",
    "ADMINISTRATION_PROFILES": "Folder of per-administration profiles (default ./profiles).",
    "HL7_PROCESSING_ID": "MSH-11: 'P' in production, 'T' elsewhere (default T).",
    "ADMINISTRATIONS": (
        "Space-separated administration codes this stamp accepts events and launches for "
        "(others: 422); empty: every administration with a profile (the local run)."
    ),
    "QUEUE_BACKEND": "'servicebus' in Azure, 'embedded' in the local run.",
    "CROSSWALK_BACKEND": "'table' in Azure, 'sqlite' in the local run.",
    "CROSSWALK_TABLE_ENDPOINT": "Table service URL, e.g. https://<account>.table.core.windows.net.",
    "LOCAL_DATA_DIR": "Folder for the local run's SQLite queue and crosswalk (default ./.local).",
    SETTING_SERVICE_BUS_NAMESPACE: "Service Bus namespace host name (identity-based connection).",
    "AZURE_CLIENT_ID": "Client id of the user-assigned managed identity.",
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "Turns on Azure Monitor export (never in tests).",
}
"""Every app setting the code reads, with what it means."""

SECRET_SETTINGS: tuple[str, ...] = (
    "ORBIT_WEBHOOK_SECRETS",
    "LAUNCH_SECRETS_ORBIT",
    "LAUNCH_SECRETS_MILLENNIUM",
    "LAUNCH_LOOKUP_SECRET",
    "MILLENNIUM_FHIR_SECRET",
    "OPS_ADMIN_SECRETS",
)
"""The settings that hold secrets (Key Vault references in Azure). A value that is
missing or still an unresolved ``@Microsoft.KeyVault(...)`` reference is "not
configured" and never used (shared/secrets.py)."""

KEY_VAULT_SETTINGS: tuple[str, ...] = (*SECRET_SETTINGS, "MILLENNIUM_MLLP_CA_BUNDLE")
"""Every setting that may be a Key Vault reference: the secrets and the MLLP CA bundle."""

LAUNCH_URL_SETTINGS: tuple[str, ...] = ("MILLENNIUM_WEB_URL", "ORBIT_WEB_URL")
"""The only settings a profile's launch template may name (``${NAME}``): a template
that names any other, a secret say, is refused when the profile is loaded, so no
setting's value can end up in a URL a browser is sent to."""
