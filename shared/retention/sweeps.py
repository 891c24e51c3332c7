"""The kinds of rows the clean-up removes, and which rows of each are old enough.

Each ``Sweep`` is one ``scan_older`` selection over one table; the store filters,
so only rows that are due come back. What is never swept: a booking's snapshot,
its target rows (confirmed state, in-doubt intent, retries, blocks), its
``converged|…`` rows and the ``lookup`` table — the sync and the jump-out read
them for as long as the booking lives.

Every time compared here is written by the app as UTC ISO 8601 text, and the
bounds are formatted the same way, so text order is time order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from shared.crosswalk.port import OlderThan
from shared.crosswalk.repository import AUDIT_PREFIX
from shared.launch.audit import AUDIT_PREFIX as LAUNCH_AUDIT_PREFIX
from shared.names import TABLE_BOOKINGS, TABLE_DELIVERIES, TABLE_LAUNCHES
from shared.retention.policy import RetentionPolicy
from shared.webhook.idempotency import ROW_KEY as DELIVERY_ROW


class Kind(StrEnum):
    """What a sweep removes (the ``kind`` dimension of the metric, and log fields)."""

    DELIVERIES = "deliveries"
    UNFOLLOWED_LAUNCH_CODES = "unfollowed-launch-codes"
    LAUNCH_REQUESTS = "launch-requests"
    LAUNCH_AUDIT = "launch-audit"
    FOLLOWED_LAUNCH_CODES = "followed-launch-codes"
    BOOKING_AUDIT = "booking-audit"


Selector = Callable[[dt.datetime, RetentionPolicy], OlderThan | None]


@dataclass(frozen=True)
class Sweep:
    kind: Kind
    table: str
    select: Selector  # None: this kind is kept (its age is off)


def utc_text(moment: dt.datetime) -> str:
    """A bound in the format the rows' times are written in."""
    return moment.astimezone(dt.UTC).isoformat()


def _deliveries(now: dt.datetime, policy: RetentionPolicy) -> OlderThan:
    return OlderThan("acceptedAt", utc_text(now - policy.deliveries), row_key=DELIVERY_ROW)


def _unfollowed_codes(now: dt.datetime, policy: RetentionPolicy) -> OlderThan:
    # usedAt is "" until the code is followed (shared.launch.codes).
    bound = utc_text(now - policy.launch_codes)
    return OlderThan("expiresAt", bound, row_key="code", blank_property="usedAt")


def _launch_requests(now: dt.datetime, policy: RetentionPolicy) -> OlderThan:
    # The replay guard of signed launch requests; a request older than the ±5 min
    # signature tolerance is refused by its timestamp before this row is looked at.
    return OlderThan("usedAt", utc_text(now - policy.launch_codes), row_key="request")


def _launch_audit(now: dt.datetime, policy: RetentionPolicy) -> OlderThan | None:
    if policy.audit is None:
        return None
    bound = utc_text(now - policy.audit)
    return OlderThan("at", bound, partition_key_prefix=LAUNCH_AUDIT_PREFIX)


def _followed_codes(now: dt.datetime, policy: RetentionPolicy) -> OlderThan | None:
    # A followed code's row records who was sent where: it goes with the audit.
    if policy.audit is None:
        return None
    return OlderThan("expiresAt", utc_text(now - policy.audit), row_key="code")


def _booking_audit(now: dt.datetime, policy: RetentionPolicy) -> OlderThan | None:
    if policy.audit is None:
        return None
    return OlderThan("at", utc_text(now - policy.audit), row_key_prefix=AUDIT_PREFIX)


SWEEPS: tuple[Sweep, ...] = (
    # Small tables first: a large backlog of booking audit cannot starve them.
    Sweep(Kind.DELIVERIES, TABLE_DELIVERIES, _deliveries),
    Sweep(Kind.UNFOLLOWED_LAUNCH_CODES, TABLE_LAUNCHES, _unfollowed_codes),
    Sweep(Kind.LAUNCH_REQUESTS, TABLE_LAUNCHES, _launch_requests),
    Sweep(Kind.LAUNCH_AUDIT, TABLE_LAUNCHES, _launch_audit),
    Sweep(Kind.FOLLOWED_LAUNCH_CODES, TABLE_LAUNCHES, _followed_codes),
    Sweep(Kind.BOOKING_AUDIT, TABLE_BOOKINGS, _booking_audit),
)
"""Every sweep, in the order a run does them."""
