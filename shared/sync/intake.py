"""Intake: store an accepted Orbit event as the booking's newest snapshot.

Snapshots carry a per-booking version; an event whose version is older than the
stored one is acknowledged and ignored (stale). A newer one replaces the stored
snapshot and kicks each target that has something to do (see
``_targets_to_kick``). In ``jumpout`` mode the snapshot is kept (shadow) and
nothing is kicked until the go-live.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from enum import StrEnum

from shared import telemetry
from shared.booking import BookingSnapshot
from shared.crosswalk.repository import AuditRecord, StoredSnapshot
from shared.errors import AdministrationMismatch, ConcurrencyConflict, EntityExists
from shared.messages import EventMessage, Kick, KickCause, kick_outbound
from shared.profiles import Mode
from shared.sync.channel import Operation
from shared.sync.convergence import note_if_converged
from shared.sync.plan import plan_snapshot
from shared.sync.ports import SyncPorts
from shared.targets import Target, millennium_alias

log = logging.getLogger("orbitsync.sync")


class IntakeResult(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"  # same version again: kicks resent, harmless
    STALE = "stale"  # older than the stored version: ignored


def store_event(event: EventMessage, ports: SyncPorts) -> IntakeResult:
    """Store ``event``'s snapshot if it is newer, then kick the targets.

    Raises:
        UnknownAdministration: the administration's profile is gone.
        AdministrationMismatch: another administration's booking has this booking id.
        TransientError: the crosswalk or the bus is unreachable.
    """
    snapshot = event.snapshot
    profile = ports.profiles.get(snapshot.administration)
    telemetry.annotate(
        administration=profile.code, version=snapshot.version, event_id=event.event_id
    )
    result, stored, first = _store_newest(event, ports)
    if stored is None:
        return result
    if profile.mode is Mode.INTEGRATED:
        kick_targets(
            ports,
            snapshot.booking_id,
            KickCause.EVENT,
            f"v{snapshot.version}",
            event.correlation_id,
            targets=_targets_to_kick(ports, stored, first=first),
        )
    return result


def _targets_to_kick(ports: SyncPorts, stored: StoredSnapshot, *, first: bool) -> list[Target]:
    """The targets that have something to do now: an intent (in doubt: resent), a
    block (it may lift for the new facts), or an operation the planner would send.

    The others need no kick. One in line with the snapshot stays so: only its own
    worker changes what it holds, and that worker reads the newest snapshot again
    after each confirmed step (the encounter, where it stops early, checks that no
    newer snapshot came). One that waits is kicked by the target it waits for: a
    dependent by the encounter's confirmation (or its worker, finding it in sync or
    waiting), the encounter by the dependent whose removal it waited for. After a
    booking's first snapshot nothing of it exists: only the encounter can move, and
    there is nothing to read. When nothing is kicked the booking is already in line
    with this snapshot, so its convergence is recorded here.
    """
    if first:
        return [Target.ENCOUNTER]
    states = ports.crosswalk.load_targets(stored.snapshot.booking_id)
    confirmed = {target: state.confirmed for target, state in states.items()}
    targets = []
    for target, state in states.items():
        decision = plan_snapshot(
            target, stored.snapshot, stored.patient_generation, confirmed, ports.channels
        )
        if state.intent is not None or state.blocked is not None or isinstance(decision, Operation):
            targets.append(target)
    if not targets:
        note_if_converged(ports, stored, states)
    return targets


def kick_targets(
    ports: SyncPorts,
    booking_id: str,
    cause: KickCause,
    note: str,
    correlation_id: str = "",
    targets: Iterable[Target] = tuple(Target),
    at: dt.datetime | None = None,
) -> None:
    """Send one kick per target (nothing when ``targets`` is empty), scheduled for
    ``at`` when given."""
    kicks = [
        kick_outbound(
            Kick(
                booking_id=booking_id,
                target=target,
                cause=cause,
                note=note,
                correlation_id=correlation_id,
            ),
            scheduled_at=at,
            properties=telemetry.trace_properties(),
        )
        for target in targets
    ]
    if kicks:
        ports.bus.send(kicks)


def _store_newest(
    event: EventMessage, ports: SyncPorts
) -> tuple[IntakeResult, StoredSnapshot | None, bool]:
    """Store the snapshot if it is newer: the result, the booking's stored snapshot
    (None when the event is stale), and whether it is the booking's first."""
    snapshot = event.snapshot
    for _ in range(5):
        previous = ports.crosswalk.load_snapshot(snapshot.booking_id)
        if previous is not None:
            _refuse_another_administration(event, previous, ports)
        if previous is not None and previous.version > snapshot.version:
            _audit(event, ports, "event-stale", f"stored version is {previous.version}")
            telemetry.stale_event_ignored(previous.version)
            log.info(
                "stale event ignored: booking %s v%s (stored v%s)",
                snapshot.booking_id,
                snapshot.version,
                previous.version,
            )
            return IntakeResult.STALE, None, False
        if previous is not None and previous.version == snapshot.version:
            return IntakeResult.DUPLICATE, previous, False
        stored = StoredSnapshot(
            snapshot=snapshot,
            received_at=event.received_at,
            event_id=event.event_id,
            correlation_id=event.correlation_id,
            patient_generation=_patient_generation(snapshot, previous),
        )
        try:
            ports.crosswalk.save_snapshot(stored, previous)
        except (ConcurrencyConflict, EntityExists):
            continue  # another event of the booking won the race: compare again
        _audit(event, ports, "event-stored", event.event_type)
        if previous is not None and stored.patient_generation != previous.patient_generation:
            old = millennium_alias(snapshot.booking_id, previous.patient_generation)
            new = millennium_alias(snapshot.booking_id, stored.patient_generation)
            # The booking trace shows which aliases belong to which generation.
            _audit(event, ports, "patient-corrected", f"Millennium aliases {old} -> {new}")
        return IntakeResult.STORED, stored, previous is None
    raise ConcurrencyConflict(f"booking {snapshot.booking_id}: snapshot kept changing")


def _refuse_another_administration(
    event: EventMessage, previous: StoredSnapshot, ports: SyncPorts
) -> None:
    """Booking ids must be unique across the administrations a stamp serves: the
    visit number, the appointment ids and the control ids are built from it alone.
    Taken as the same booking, another administration's event would be dropped as a
    duplicate, or move the booking to another patient (a wrong-patient risk).

    Raises:
        AdministrationMismatch: the stored booking belongs to another administration.
    """
    stored, arriving = previous.snapshot.administration, event.snapshot.administration
    if stored == arriving:
        return
    detail = f"booking belongs to {stored}; event from {arriving} refused"
    _audit(event, ports, "event-refused", detail)
    raise AdministrationMismatch(
        f"booking {event.snapshot.booking_id} belongs to {stored}, but event "
        f"{event.event_id} (v{event.snapshot.version}) comes from {arriving}: nothing was "
        "stored or sent. Booking ids must be unique across administrations; ask Orbit's "
        "vendor which booking this is, then purge the letter"
    )


def _patient_generation(snapshot: BookingSnapshot, previous: StoredSnapshot | None) -> int:
    """The previous generation, plus one when Orbit corrected the patient's identity
    (a name correction is the same person and keeps the generation)."""
    if previous is None:
        return 0
    before, now = previous.snapshot.patient.identifier, snapshot.patient.identifier
    changed = (before.system, before.value) != (now.system, now.value)
    return previous.patient_generation + (1 if changed else 0)


def _audit(event: EventMessage, ports: SyncPorts, kind: str, detail: str) -> None:
    ports.crosswalk.audit(
        event.snapshot.booking_id,
        AuditRecord(
            kind=kind,
            at=ports.clock(),
            version=event.snapshot.version,
            detail=detail,
            extra={"eventId": event.event_id, "correlationId": event.correlation_id},
        ),
    )
