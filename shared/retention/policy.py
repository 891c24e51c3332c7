"""How long each kind of row is kept: the retention ages, their defaults and limits.

The reasons, in short (docs/operations.md, "Retention", has them in full):

* **Webhook deliveries** (``deliveries``, webhook-id → the original 202) only
  answer a *redelivery* of the same webhook-id. Standard Webhooks senders retry
  for about one to three days, re-signing each attempt, so a row must outlive
  that; a *replayed* copy of an old request is refused by the ±5 minute signature
  tolerance before its id is looked up. Default 7 days, at least 3.
* **Launch codes never followed, and signed launch requests** (``launches``) are
  dead 60 seconds after they were made (the code's lifetime, the signature
  tolerance). They are kept one day, so a clinician's late click is still
  answered and logged as an expired code; at least 1 day.
* **Audit rows** (the booking's ``audit|…`` rows and the jump-out's launch audit,
  with the code rows of followed launches) are processing and access logs under
  the patient data act. HSLF-FS 2016:40 4 kap. 9 § asks for access logs to be kept
  at least five years; the region's own decision (its gallringsbeslut under the
  archives act) governs, so the age is a setting. Default 10 years, the
  journal's own minimum (patientdatalagen 3 kap. 17 §); at least 5 years, or
  ``off`` (never removed) while the region has not decided.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

DAY = dt.timedelta(days=1)

DEFAULT_DELIVERIES_DAYS = 7
MIN_DELIVERIES_DAYS = 3
DEFAULT_LAUNCH_CODES_DAYS = 1
MIN_LAUNCH_CODES_DAYS = 1
DEFAULT_AUDIT_DAYS = 3650
MIN_AUDIT_DAYS = 1827  # five years, leap days included
AUDIT_OFF = "off"


@dataclass(frozen=True)
class RetentionPolicy:
    """The ages after which the clean-up removes rows; ``audit`` None: never."""

    deliveries: dt.timedelta = DEFAULT_DELIVERIES_DAYS * DAY
    launch_codes: dt.timedelta = DEFAULT_LAUNCH_CODES_DAYS * DAY
    audit: dt.timedelta | None = DEFAULT_AUDIT_DAYS * DAY
