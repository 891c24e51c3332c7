"""Plain-text views for the terminal: a booking's trace, dead letters, a clean-up run."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

from shared.deadletters.operations import ReasonGroup, describe_body
from shared.deadletters.port import Letter
from shared.ops.resubmit_check import NOT_FIXED_BY_RESUBMIT
from shared.retention.policy import RetentionPolicy
from shared.retention.report import CleanUpReport

LIST_DESCRIPTION_WIDTH = 100


def trace_text(trace: Mapping[str, Any]) -> str:
    """The booking trace (``shared.ops.booking_trace``) as sections of lines."""
    lines = [*_header(trace), "", "Targets (desired = Orbit's snapshot, confirmed = Millennium)"]
    for name, target in trace["targets"].items():
        lines += _target_lines(name, target)
    lines += _section(
        "Events received",
        trace["events"],
        lambda e: (
            f"{e.get('at', '')}  {e.get('kind', '')}  v{e.get('version', '?')}  "
            f"event {e.get('eventId', '-')}  {e.get('detail', '')}"
        ),
    )
    lines += _section(
        "HL7 messages sent (MSH-10, ACK)",
        trace["messages"],
        lambda m: (
            f"{m.get('at', '')}  {m.get('target', ''):<11} {m.get('trigger', ''):<8} "
            f"MSH-10 {m.get('controlId', '')}  ACK {m['ack']}  send #{m.get('send', 1)}"
            + (f"  ({m['why']})" if "why" in m else "")
        ),
    )
    lines += _section(
        "Blocks",
        trace["blocks"],
        lambda b: (
            f"{b.get('at', '')}  {b.get('target', '')}  v{b.get('version', '?')}  "
            f"{b.get('reason', '')}"
        ),
    )
    dead = trace["deadLetters"]
    lines += _section(
        "Dead-lettered",
        dead["recorded"],
        lambda d: (
            f"{d.get('at', '')}  {d.get('target') or d.get('detail', '')}  {d.get('reason', '')}"
        ),
    )
    parked = dead["parked"]
    if isinstance(parked, str):
        lines += ["", f"Still parked: {parked}"]
    else:
        lines += _section(
            "Still parked (resubmit with: .venv/bin/python -m tools.ops deadletters resubmit ID)",
            parked,
            lambda p: f"{p['id']}  {p['queue']}  {p['reason']}  {p['description']}",
        )
    lines += _section(
        "Converged (every target as the snapshot asks)",
        trace["converged"],
        lambda c: f"v{c.get('version')} at {c.get('at')}  sync lag {c.get('lagMs')} ms",
    )
    lines += _section(
        "Operator actions",
        trace["operatorActions"],
        lambda a: (
            f"{a.get('at', '')}  {a.get('kind', '')}  {a.get('target', '')}  "
            f"{a.get('reason', '')} {a.get('letterId', '')}".rstrip()
        ),
    )
    return "\n".join(lines)


def _header(trace: Mapping[str, Any]) -> list[str]:
    snapshot = trace["snapshot"]
    lines = [f"Booking {trace['bookingId']}"]
    if snapshot is None:
        lines.append("  no snapshot stored (the event never reached intake: see Dead-lettered)")
    else:
        lines.append(
            f"  {snapshot['administration']}, {snapshot['status']}, "
            f"{snapshot['admissionType']}, version {snapshot['version']} received "
            f"{snapshot['receivedAt']}"
        )
        lines.append(
            f"  event {snapshot['eventId']}, correlation {snapshot['correlationId']}"
            + (", PROTECTED IDENTITY" if snapshot["protectedIdentity"] else "")
        )
    patient = trace["patient"]
    if isinstance(patient, Mapping):
        identifier = patient["identifier"]
        lines.append(
            f"  patient: {identifier['system']} {identifier['value']}, "
            f"{patient['familyName']}, {patient['givenName']}"
        )
    elif patient is not None:
        lines.append(f"  patient: {patient}")
    lines.append(f"  in sync with Millennium: {'yes' if trace['inSync'] else 'NO'}")
    check = trace.get("millennium") or {}
    if not check.get("checked"):
        lines.append(f"  ({check.get('note', 'what Millennium holds is not checked here')})")
    for line in check.get("disagreements", []):
        lines.append(f"  MILLENNIUM DISAGREES: {line}")
    if check.get("disagreements"):
        lines.append(
            "  Locally this follows a simulator started empty (SIMULATOR_RESET): "
            "make reset starts both empty."
        )
    return lines


def _target_lines(name: str, target: Mapping[str, Any]) -> list[str]:
    lines = [
        f"  {name:<12} {target['state']:<13} confirmed v{target['confirmedVersion']}, "
        f"patient: {target['patient']}, retries {target['retries']}, "
        f"AE {target['aeAttempts']}"
    ]
    lines.append(f"      desired:   {_facts(target['desired'])}")
    lines.append(f"      confirmed: {_facts(target['confirmed'])}")
    if target["differs"]:
        lines.append(f"      differs in: {', '.join(target['differs'])}")
    doubt = target["inDoubt"]
    if doubt:
        lines.append(
            f"      in doubt:  {doubt['trigger']} MSH-10 {doubt['controlId']} "
            f"(v{doubt['version']}), sent {doubt['sends']}x since {doubt['since']}"
        )
    blocked = target["blocked"]
    if blocked:
        lines.append(
            f"      BLOCKED:   {blocked['reason']} since {blocked['at']}: {blocked['description']}"
        )
    return lines


def _facts(facts: Any) -> str:
    if isinstance(facts, Mapping):
        return " ".join(f"{key}={value}" for key, value in facts.items())
    return str(facts)


def _section(title: str, rows: Sequence[Mapping[str, Any]], line: Any) -> list[str]:
    if not rows:
        return ["", f"{title}: none"]
    return ["", f"{title}:", *(f"  {line(row)}" for row in rows)]


def letters_text(groups: Sequence[ReasonGroup]) -> str:
    """Dead letters grouped by reason, the most frequent first."""
    total = sum(len(group.letters) for group in groups)
    if not total:
        return "No dead letters."
    lines = [f"{total} dead letter(s), by reason:"]
    for group in groups:
        lines += ["", f"{group.reason}: {len(group.letters)}"]
        for letter in group.letters:
            at = (
                letter.dead_lettered_at.isoformat(timespec="seconds")
                if letter.dead_lettered_at
                else "-"
            )
            lines.append(
                f"  {letter.id:<12} {letter.source_queue:<17} {letter.booking_id:<16} {at}"
            )
            # The whole description, wrapped: its cause is usually at the end.
            lines += textwrap.wrap(
                letter.description or "(no description)",
                LIST_DESCRIPTION_WIDTH,
                initial_indent="      ",
                subsequent_indent="      ",
            )
    lines += [
        "",
        "After fixing the cause (docs/operations.md has one entry per reason):",
        "  .venv/bin/python -m tools.ops deadletters resubmit --reason <reason>",
    ]
    return "\n".join(lines)


def letter_text(letter: Letter) -> str:
    """One dead letter in full (an Orbit event's snapshot stays out: it names the patient)."""
    at = letter.dead_lettered_at.isoformat() if letter.dead_lettered_at else "-"
    return "\n".join(
        [
            f"Dead letter {letter.id}",
            f"  reason:        {letter.reason}",
            f"  description:   {letter.description}",
            f"  source queue:  {letter.source_queue}",
            f"  booking:       {letter.booking_id}",
            f"  message id:    {letter.message_id}",
            f"  parked at:     {at}",
            f"  deliveries:    {letter.delivery_count}",
            f"  properties:    {json.dumps(dict(letter.properties), sort_keys=True)}",
            f"  body:          {json.dumps(describe_body(letter), ensure_ascii=False)}",
            "",
            _next_step(letter),
            f"Trace:    .venv/bin/python -m tools.ops booking {letter.booking_id}",
        ]
    )


def _next_step(letter: Letter) -> str:
    """The command to run next: a purge where a resubmit is refused whatever is fixed."""
    if letter.reason in NOT_FIXED_BY_RESUBMIT:
        return (
            f"Purge:    .venv/bin/python -m tools.ops deadletters purge {letter.id}  "
            f"(once the cause is answered: {letter.reason} cannot be fixed by a resubmit, "
            "docs/operations.md)"
        )
    return f"Resubmit: .venv/bin/python -m tools.ops deadletters resubmit {letter.id}"


def letter_json(letter: Letter) -> dict[str, Any]:
    return {
        "id": letter.id,
        "reason": letter.reason,
        "description": letter.description,
        "sourceQueue": letter.source_queue,
        "bookingId": letter.booking_id,
        "messageId": letter.message_id,
        "parkedAt": letter.dead_lettered_at.isoformat() if letter.dead_lettered_at else None,
        "deliveryCount": letter.delivery_count,
        "properties": dict(letter.properties),
        "body": describe_body(letter),
    }


def retention_text(report: CleanUpReport, policy: RetentionPolicy) -> str:
    """What a clean-up run did (or, in a dry run, found due), for a terminal."""
    from shared.retention.report import (
        STOP_DONE,
        STOP_MAX_DELETES,
        STOP_MISCONFIGURED,
        STOP_UNAVAILABLE,
    )

    if report.stopped == STOP_MISCONFIGURED:
        return f"Nothing removed: {report.problem}. Fix the setting; the clean-up stays off."
    audit = f"{policy.audit.days} days" if policy.audit else "off (never removed)"
    verb = "due" if report.dry_run else "removed"
    lines = [
        f"Retention ages: deliveries {policy.deliveries.days} days, unfollowed launch codes "
        f"and launch requests {policy.launch_codes.days} days, audit {audit}.",
        "Dry run: nothing was changed." if report.dry_run else "",
    ]
    for kind, result in report.sweeps.items():
        if result.kept:
            state = "kept (audit retention is off)"
        else:
            more = "" if result.finished else " so far, more to look at"
            changed = f", {result.changed} changed meanwhile (left)" if result.changed else ""
            state = f"{verb} {result.removed}{more}{changed}"
        lines.append(f"  {kind.value:<24} {state}")
    if report.stopped == STOP_UNAVAILABLE:
        lines.append(f"Stopped: the store could not be reached ({report.problem}).")
    elif report.stopped != STOP_DONE:
        spent = (
            "delete budget (--max-deletes)"
            if report.stopped == STOP_MAX_DELETES
            else ("time budget (--seconds)")
        )
        lines.append(f"Stopped: the {spent} was spent; run again to continue.")
    lines.append(f"{report.removed} {verb} in {report.elapsed_ms / 1000:.1f} s.")
    return "\n".join(line for line in lines if line)
