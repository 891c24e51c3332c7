"""The target worker: bring one target of one booking in line with its snapshot.

One call handles one kick. It loops: read state → plan the next operation →
let the target's channel prepare it → record the intent (ETag-guarded) → send →
record the outcome, until the target is in sync, must wait for another target,
or must be retried later. A crash at any point leaves either no intent (nothing
was sent) or an intent that the next kick resends unchanged (same idempotency
key, for HL7 the same MSH-10), so Millennium never gets a second create.

The worker knows outcomes, not protocols (shared.sync.channel): in doubt →
resend the same payload later; retry later (HL7 AE) → a new attempt later, up to
the profile's limit; rejected (HL7 AR), unmapped codes → blocked and
dead-lettered with a reason.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from shared import telemetry
from shared.crosswalk.repository import (
    AuditRecord,
    Blocked,
    Intent,
    StoredSnapshot,
    TargetState,
    facts_json,
)
from shared.errors import (
    ApplicationErrorsExhausted,
    ChannelChanged,
    ConcurrencyConflict,
    EntityExists,
    InDoubtTooLong,
    MessageRejected,
    PermanentError,
    TransientError,
)
from shared.messages import Kick, KickCause, kick_outbound
from shared.profiles import Mode, Profile
from shared.sync.channel import (
    Channel,
    Confirmed,
    InDoubt,
    NotSent,
    Operation,
    OperationKind,
    Outcome,
    Rejected,
    RetryLater,
    SendContext,
)
from shared.sync.convergence import note_if_converged
from shared.sync.plan import DEPENDENTS, Decision, Wait, plan, plan_snapshot
from shared.sync.ports import SyncPorts
from shared.targets import Facts, Target, desired_facts, removal_facts

log = logging.getLogger("orbitsync.sync")

MAX_STEPS_PER_KICK = 6  # a patient correction needs at most remove + create per target


class SyncOutcome(StrEnum):
    IN_SYNC = "in-sync"
    WAITING = "waiting"  # for another target, whose worker will kick this one
    RETRY_SCHEDULED = "retry-scheduled"
    BLOCKED = "blocked"  # a permanent failure for these facts; an operator must act
    SHADOW = "shadow"  # administration not integrated: nothing is sent
    NO_BOOKING = "no-booking"
    STEP_LIMIT = "step-limit"  # re-kicked itself to continue


@dataclass(frozen=True)
class _Context:
    kick: Kick
    stored: StoredSnapshot
    profile: Profile
    desired: Facts | None
    ports: SyncPorts
    kicked: set[Target] = field(default_factory=set)  # by this call, any cause

    @property
    def booking_id(self) -> str:
        return self.kick.booking_id

    @property
    def target(self) -> Target:
        return self.kick.target

    @property
    def channel(self) -> Channel:
        return self.ports.channels[self.kick.target]


def sync_target(kick: Kick, ports: SyncPorts) -> SyncOutcome:
    """Handle one kick for ``kick.target`` of ``kick.booking_id``.

    Raises:
        PermanentError: after recording the target as blocked; the caller
            dead-letters the kick with ``error.reason`` and ``str(error)``.
        TransientError: the crosswalk or bus is unreachable (nothing half-done).
    """
    stored = ports.crosswalk.load_snapshot(kick.booking_id)
    if stored is None:
        return SyncOutcome.NO_BOOKING
    profile = ports.profiles.get(stored.snapshot.administration)
    telemetry.annotate(
        administration=profile.code,
        target=kick.target.value,
        cause=kick.cause.value,
        version=stored.version,
    )
    if profile.mode is not Mode.INTEGRATED:
        return SyncOutcome.SHADOW
    desired = desired_facts(stored.snapshot, kick.target, stored.patient_generation)
    ctx = _Context(kick, stored, profile, desired, ports)
    for _ in range(MAX_STEPS_PER_KICK):
        outcome = _advance(ctx)
        if outcome is not None:
            return outcome
        ctx = _refreshed(ctx)
    _kick(ctx, [kick.target], KickCause.RETRY, f"continue-{ctx.stored.version}-{kick.note}")
    return SyncOutcome.STEP_LIMIT


def _refreshed(ctx: _Context) -> _Context:
    """After a confirmed step, plan the next from the newest snapshot, so a
    cancellation that arrived meanwhile is not preceded by a needless create."""
    stored = ctx.ports.crosswalk.load_snapshot(ctx.booking_id)
    if stored is None or stored.version == ctx.stored.version:
        return ctx
    desired = desired_facts(stored.snapshot, ctx.target, stored.patient_generation)
    return replace(ctx, stored=stored, desired=desired)


def _advance(ctx: _Context) -> SyncOutcome | None:
    """One step; None means 'a message was confirmed, look again'."""
    states = ctx.ports.crosswalk.load_targets(ctx.booking_id)
    state = states[ctx.target]
    if state.blocked is not None:
        if _still_blocked(ctx, state):
            return SyncOutcome.BLOCKED
        try:
            state = _unblock(ctx, state)
        except (ConcurrencyConflict, EntityExists):
            return None
    if state.intent is None:
        decision = plan(
            ctx.target,
            ctx.desired,
            {t: s.confirmed for t, s in states.items()},
            updates_in_place=ctx.channel.updates_in_place,
        )
        if decision is None:
            note_if_converged(ctx.ports, ctx.stored, states)
            _kick_targets_waiting_on_this_one(ctx, states)
            return _settle(ctx, state)
        if isinstance(decision, Wait):
            # A patient correction: the dependent waits for the new encounter, the
            # encounter for this dependent's removal; a lost kick would hold both.
            _kick_targets_waiting_on_this_one(ctx, states)
            return SyncOutcome.WAITING
        try:
            state = _record_intent(ctx, state, decision)
        except (ConcurrencyConflict, EntityExists):
            return None  # another worker moved the row: read it again
    assert state.intent is not None
    return _send(ctx, state, state.intent, states)


def _released_by_the_encounter(
    ctx: _Context, states: Mapping[Target, TargetState], encounter: Facts | None
) -> list[Target]:
    """The dependents that waited for the encounter and can move once it is
    confirmed as ``encounter``: a new booking's, or a corrected patient's, new
    encounter. A dependent that did not wait (an update of a booked encounter, a
    booking without a bed) was kicked by the snapshot that gave it work.

    ``states`` were read before the encounter's send; a dependent's state can not
    have changed meanwhile in a way that makes it wait (it only waits while the
    encounter is missing or belongs to another patient generation, and then the
    dependent has already removed what it had), or, for the bed booking, while the
    encounter is not an inpatient one (and then there is no bed booking)."""
    before = {target: target_state.confirmed for target, target_state in states.items()}
    after = {**before, Target.ENCOUNTER: encounter}
    released = []
    for dependent in DEPENDENTS:
        was, now = (_decision(ctx, dependent, confirmed) for confirmed in (before, after))
        if isinstance(was, Wait) and isinstance(now, Operation):
            released.append(dependent)
    return released


def _decision(ctx: _Context, other: Target, confirmed: Mapping[Target, Facts | None]) -> Decision:
    """What the planner would have ``other``'s worker do, given ``confirmed``."""
    stored = ctx.stored
    return plan_snapshot(
        other, stored.snapshot, stored.patient_generation, confirmed, ctx.ports.channels
    )


def _kick_targets_waiting_on_this_one(ctx: _Context, states: Mapping[Target, TargetState]) -> None:
    """In sync or waiting itself: kick each target that waited on this one and can
    move now, unless this call kicked it already.

    This is how a dependent's removal reaches the encounter: the step after it
    reads fresh state, so of two dependents removed at the same time at least one
    sees both removals. For the encounter it repairs a lost kick: its
    confirmation kicks the dependents it released (``_confirm``), but that kick is
    lost when the bus fails after the step was saved, and the settlement's copy
    of the kick then lands here. What waits on what mirrors the planner: a
    dependent's create waits for the encounter (a bed booking's for an inpatient
    one), and the encounter's removal for the dependents' removals.
    """
    confirmed = {target: target_state.confirmed for target, target_state in states.items()}
    waiting = (
        {dependent: OperationKind.CREATE for dependent in DEPENDENTS}
        if ctx.target is Target.ENCOUNTER
        else {Target.ENCOUNTER: OperationKind.REMOVE}
    )
    movable = []
    for other, kind in waiting.items():
        other_state = states[other]
        if other in ctx.kicked or other_state.intent is not None or other_state.blocked:
            continue
        decision = _decision(ctx, other, confirmed)
        if isinstance(decision, Operation) and decision.kind is kind:
            movable.append(other)
    # The note of the kick that was lost: if it did go out, this one is a duplicate.
    _kick(ctx, movable, KickCause.DEPENDENCY, f"{ctx.target}-{states[ctx.target].seq}")


def _still_blocked(ctx: _Context, state: TargetState) -> bool:
    """A block holds until an operator resubmits; one without an in-doubt message
    also lifts when the snapshot asks for different facts."""
    assert state.blocked is not None
    if ctx.kick.cause is KickCause.RESUBMIT:
        return False
    return state.intent is not None or state.blocked.fingerprint == _fingerprint(ctx)


def _unblock(ctx: _Context, state: TargetState) -> TargetState:
    intent = state.intent
    if intent is not None:  # an operator checked Millennium: a fresh window of resends
        intent = replace(intent, created_at=ctx.ports.clock(), attempts=0)
    unblocked = replace(state, blocked=None, ae_attempts=0, intent=intent)
    return ctx.ports.crosswalk.save_target(ctx.booking_id, unblocked)


def _settle(ctx: _Context, state: TargetState) -> SyncOutcome:
    """In sync: clear leftover retry or blocked markers so they stop alerting."""
    if state.retries or state.blocked or state.ae_attempts:
        try:
            ctx.ports.crosswalk.save_target(
                ctx.booking_id, replace(state, retries=0, blocked=None, ae_attempts=0)
            )
        except (ConcurrencyConflict, EntityExists):
            return SyncOutcome.IN_SYNC  # someone else wrote it; their kick follows
    return SyncOutcome.IN_SYNC


def _record_intent(ctx: _Context, state: TargetState, operation: Operation) -> TargetState:
    """Let the channel prepare the operation and record it as in doubt before it is sent."""
    now = ctx.ports.clock()
    context = SendContext(ctx.booking_id, ctx.stored.version, state.refusals, ctx.profile, now)
    if operation.confirms is None:
        # A removal carries the confirmed facts (and an S15 the cancellation reason).
        operation = replace(operation, facts=removal_facts(operation.facts, ctx.stored.snapshot))
    try:
        prepared = ctx.channel.prepare(operation, context)
    except PermanentError as error:
        _block(ctx, state, error)
        raise
    intent = Intent(prepared, ctx.stored.version, operation.confirms, now)
    return ctx.ports.crosswalk.save_target(ctx.booking_id, replace(state, intent=intent))


def _send(
    ctx: _Context, state: TargetState, intent: Intent, states: Mapping[Target, TargetState]
) -> SyncOutcome | None:
    if intent.prepared.channel != ctx.channel.name:
        changed = ChannelChanged(
            f"booking {ctx.booking_id}: {_named(ctx, intent)} is in doubt on "
            f"channel {intent.prepared.channel}, but {ctx.target} now uses {ctx.channel.name}; "
            "check Millennium for it; a resubmit resends it only once that channel serves "
            "the target again (docs/operations.md, channel-changed)"
        )
        _block(ctx, state, changed)
        raise changed
    outcome = ctx.channel.send(intent.prepared, attempt=intent.attempts + 1, profile=ctx.profile)
    return _settle_outcome(ctx, state, intent, outcome, states)


def _settle_outcome(
    ctx: _Context,
    state: TargetState,
    intent: Intent,
    outcome: Outcome,
    states: Mapping[Target, TargetState],
) -> SyncOutcome | None:
    if isinstance(outcome, InDoubt):
        return _in_doubt(ctx, state, intent, outcome)
    if isinstance(outcome, NotSent):
        return _not_sent(ctx, state, intent, outcome)
    _audit(ctx, "ack", intent, ack_code=outcome.code, reason=_ack_text(outcome))
    if isinstance(outcome, Confirmed):
        _confirm(ctx, state, intent, outcome, states)
        return SyncOutcome.IN_SYNC if _done_when_released(ctx, intent) else None
    if isinstance(outcome, RetryLater):
        return _application_error(ctx, state, intent, outcome)
    rejected = MessageRejected(
        f"Millennium rejected {_named(ctx, intent)} for booking "
        f"{ctx.booking_id} with {outcome.code}: {outcome.reason}"
    )
    _block(ctx, replace(state, intent=None, refusals=state.refusals + 1), rejected)
    raise rejected


def _done_when_released(ctx: _Context, intent: Intent) -> bool:
    """Whether the encounter, having confirmed what the snapshot asks for, can stop
    without looking again: when it released dependents, they look at the booking
    next (and record when it converged), and looking again here only held up their
    sends. Not when a newer snapshot arrived meanwhile: the intake kicks the
    encounter only when it saw something to do, and may have looked before this
    step was saved."""
    if ctx.target is not Target.ENCOUNTER or intent.confirms != ctx.desired:
        return False
    if not ctx.kicked.intersection(DEPENDENTS):
        return False
    newest = ctx.ports.crosswalk.load_snapshot(ctx.booking_id)
    return newest is not None and newest.version == ctx.stored.version


def _ack_text(outcome: Confirmed | RetryLater | Rejected) -> str:
    """What the ACK said beside its code (redacted by the channel): a confirmation's
    warning, or an AE's or AR's error text, which the operator takes to Cerner while
    the booking still retries, not only once it is dead-lettered."""
    return (outcome.warning if isinstance(outcome, Confirmed) else outcome.reason)[:200]


def _confirm(
    ctx: _Context,
    state: TargetState,
    intent: Intent,
    outcome: Confirmed,
    states: Mapping[Target, TargetState],
) -> None:
    confirmed = replace(
        state,
        confirmed=intent.confirms,
        confirmed_version=intent.version,
        seq=state.seq + 1,
        intent=None,
        ae_attempts=0,
        refusals=0,
        retries=0,
        blocked=None,
    )
    _save_outcome(ctx, confirmed, intent)
    # The kicks first: the targets they let move are the booking's next sends. A
    # dependent's removal kicks nothing here: whether the encounter's removal can go
    # now depends on the other dependent too, so its next step decides from a fresh
    # read (``_kick_targets_waiting_on_this_one``).
    if ctx.target is Target.ENCOUNTER:
        released = _released_by_the_encounter(ctx, states, intent.confirms)
        _kick(ctx, released, KickCause.DEPENDENCY, f"{ctx.target}-{confirmed.seq}")
    if outcome.warning:  # the exchange's own line (telemetry) says the rest
        log.info(
            "confirmed %s %s booking %s %s %s with a warning: %s",
            ctx.target,
            intent.label,
            ctx.booking_id,
            ctx.channel.key_name,
            intent.key,
            outcome.warning,
        )


def _save_outcome(ctx: _Context, new_state: TargetState, intent: Intent) -> None:
    """Save the outcome of ``intent``; on a lost race re-apply it to the fresh row
    as long as that row still holds the same intent."""
    for _ in range(5):
        try:
            ctx.ports.crosswalk.save_target(ctx.booking_id, new_state)
            return
        except (ConcurrencyConflict, EntityExists):
            fresh = ctx.ports.crosswalk.load_targets(ctx.booking_id)[ctx.target]
            if fresh.intent is None or fresh.intent.key != intent.key:
                return  # another worker already settled this intent
            new_state = replace(new_state, etag=fresh.etag)
    raise ConcurrencyConflict(f"booking {ctx.booking_id} {ctx.target}: row kept changing")


def _in_doubt(ctx: _Context, state: TargetState, intent: Intent, outcome: InDoubt) -> SyncOutcome:
    now = ctx.ports.clock()
    attempts = intent.attempts + 1
    _audit(ctx, "in-doubt", intent, reason=outcome.reason)
    if now - intent.created_at > ctx.ports.retry.max_in_doubt:
        expired = InDoubtTooLong(
            f"booking {ctx.booking_id}: {_named(ctx, intent)} had no answer "
            f"after {attempts} sends since {intent.created_at:%Y-%m-%d %H:%M}Z; check Millennium "
            "for the booking's visit number, then resubmit (the same message is resent)"
        )
        _block(ctx, state, expired)  # keeps the intent: a resubmit resends it
        raise expired
    retried = replace(state, intent=replace(intent, attempts=attempts), retries=state.retries + 1)
    _save_outcome(ctx, retried, intent)
    _schedule_retry(ctx, attempts, f"{intent.key}-{attempts}")
    return SyncOutcome.RETRY_SCHEDULED


def _not_sent(ctx: _Context, state: TargetState, intent: Intent, outcome: NotSent) -> SyncOutcome:
    """Nothing went out: keep the intent as it is and try again with backoff."""
    retries = state.retries + 1
    _save_outcome(ctx, replace(state, retries=retries), intent)
    telemetry.link_not_sent(outcome.reason)
    _schedule_retry(ctx, retries, f"{intent.key}-n{retries}")
    return SyncOutcome.RETRY_SCHEDULED


def _application_error(
    ctx: _Context, state: TargetState, intent: Intent, outcome: RetryLater
) -> SyncOutcome:
    attempts = state.ae_attempts + 1
    if attempts > ctx.profile.ae_retry_limit:
        error = ApplicationErrorsExhausted(
            f"Millennium answered with an application error {attempts} times to "
            f"{_named(ctx, intent)} for booking {ctx.booking_id}, last answer "
            f"{outcome.code}: {outcome.reason}"
        )
        _block(
            ctx,
            replace(state, intent=None, ae_attempts=attempts, refusals=state.refusals + 1),
            error,
        )
        raise error
    retried = replace(
        state,
        intent=None,
        ae_attempts=attempts,
        refusals=state.refusals + 1,
        retries=state.retries + 1,
    )
    _save_outcome(ctx, retried, intent)
    _schedule_retry(ctx, attempts, f"{intent.key}-ae")
    return SyncOutcome.RETRY_SCHEDULED


def _block(ctx: _Context, state: TargetState, error: PermanentError) -> None:
    blocked = Blocked(
        reason=error.reason,
        description=str(error),
        fingerprint=_fingerprint(ctx),
        at=ctx.ports.clock(),
    )
    # On a lost race the dead letter still carries the reason.
    with contextlib.suppress(ConcurrencyConflict, EntityExists):
        ctx.ports.crosswalk.save_target(ctx.booking_id, replace(state, blocked=blocked))
    ctx.ports.crosswalk.audit(
        ctx.booking_id,
        AuditRecord(
            kind="blocked",
            at=ctx.ports.clock(),
            target=ctx.target.value,
            version=ctx.stored.version,
            reason=error.reason,
        ),
    )
    log.warning(
        "blocked %s of booking %s: %s (see: .venv/bin/python -m tools.ops booking %s)",
        ctx.target,
        ctx.booking_id,
        error.reason,
        ctx.booking_id,
    )
    _reconsider_if_outdated(ctx)


def _reconsider_if_outdated(ctx: _Context) -> None:
    """A block is for the facts of the snapshot this call planned from. If a newer
    one arrived meanwhile, kick the target again: the intake kicks a target only
    when it has something to do, and may have seen nothing before this block was
    saved, though the newer snapshot may not want the refused facts at all (the
    next call lifts the block then). Best effort: the block and its dead letter
    stand either way."""
    with contextlib.suppress(TransientError):
        newest = ctx.ports.crosswalk.load_snapshot(ctx.booking_id)
        if newest is not None and newest.version != ctx.stored.version:
            _kick(ctx, [ctx.target], KickCause.RETRY, f"reconsider-v{newest.version}")


def _schedule_retry(ctx: _Context, attempt: int, note: str) -> None:
    delay = ctx.ports.retry.delay(attempt, ctx.booking_id)
    _kick(ctx, [ctx.target], KickCause.RETRY, note, at=ctx.ports.clock() + delay)
    telemetry.retry_scheduled(attempt, delay)
    log.info(
        "retry %s booking %s in %.1fs (attempt %s)",
        ctx.target,
        ctx.booking_id,
        delay.total_seconds(),
        attempt,
    )


def _kick(
    ctx: _Context,
    targets: Iterable[Target],
    cause: KickCause,
    note: str,
    at: dt.datetime | None = None,
) -> None:
    """Kick ``targets`` of the booking in one send (nothing when there are none)."""
    targets = list(targets)
    kicks = [
        kick_outbound(
            Kick(
                booking_id=ctx.booking_id,
                target=target,
                cause=cause,
                note=note,
                correlation_id=ctx.kick.correlation_id,
            ),
            scheduled_at=at,
            properties=telemetry.trace_properties(),
        )
        for target in targets
    ]
    if kicks:
        ctx.ports.bus.send(kicks)
        ctx.kicked.update(targets)


def _audit(
    ctx: _Context, kind: str, intent: Intent, *, ack_code: str = "", reason: str = ""
) -> None:
    ctx.ports.crosswalk.audit(
        ctx.booking_id,
        AuditRecord(
            kind=kind,
            at=ctx.ports.clock(),
            target=ctx.target.value,
            version=intent.version,
            trigger=intent.label,
            control_id=intent.key,
            ack_code=ack_code,
            reason=reason,
            extra={"attempt": intent.attempts + 1},
        ),
    )


def _named(ctx: _Context, intent: Intent) -> str:
    """How operators find the message, e.g. ``ADT^A05 (MSH-10 6NZF…)``."""
    return f"{intent.label} ({ctx.channel.key_name} {intent.key})"


def _fingerprint(ctx: _Context) -> str:
    """Identifies the desired facts a block applies to (a new snapshot lifts it)."""
    return hashlib.sha256(facts_json(ctx.desired).encode()).hexdigest()[:16]
