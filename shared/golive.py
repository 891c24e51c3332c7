"""Go-live of an administration: bring its shadowed bookings into Millennium.

In ``jumpout`` mode the intake keeps every booking's snapshot but sends nothing.
When the administration switches to ``integrated`` (profile ``mode`` and the
stamp's ``mode`` parameter, in one reviewed change, deployed), this command
kicks every stored booking that is booked and not yet over, so Millennium gets
its encounters, appointments and bed bookings without anyone registering them
by hand. Bookings already over, and cancelled ones, are left alone.

    .venv/bin/python -m shared.golive SU --dry-run    # what would be sent; sends nothing
    .venv/bin/python -m shared.golive SU              # send

It refuses unless the administration's mode is ``integrated``, and it is safe to
repeat: a kick only says "this booking may be out of sync" and the workers send
what closes the gap, so a second run sends nothing for bookings already in sync
(and duplicate detection drops a repeated kick within its window anyway).

The report names booking ids, planned dates and counts per target, no personal
data; for a protected identity (skyddad identitet) not even the date.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from shared.booking import BookingSnapshot, BookingStatus
from shared.crosswalk.repository import TargetState
from shared.errors import PermanentError, UnknownAdministration
from shared.messages import KickCause
from shared.ops.millennium_view import MillenniumView, disagreements
from shared.profiles import Mode
from shared.settings import Settings
from shared.sync.intake import kick_targets
from shared.sync.ports import SyncPorts
from shared.targets import Target, desired_facts

PROTECTED_DATE = "(protected)"


class GoLiveRefused(PermanentError):
    """The administration is not in ``integrated`` mode; the message says what to do."""


@dataclass(frozen=True)
class GoLiveBooking:
    booking_id: str
    planned_date: str  # yyyy-mm-dd of the planned start, or PROTECTED_DATE
    targets: tuple[Target, ...]  # what Millennium still lacks or holds differently


@dataclass(frozen=True)
class GoLiveReport:
    administration: str
    dry_run: bool
    bookings: tuple[GoLiveBooking, ...] = ()
    in_sync: int = 0  # booked, not over, nothing to send
    over: int = 0  # booked but already over: left alone
    cancelled: int = 0
    kicked: int = 0  # bookings kicked (0 in a dry run)
    # In sync by the crosswalk, but Millennium itself holds otherwise (not kicked:
    # the workers trust the crosswalk). None: Millennium was not asked.
    disagreeing: tuple[str, ...] | None = None

    def per_target(self) -> dict[Target, int]:
        counts = Counter(target for booking in self.bookings for target in booking.targets)
        return {target: counts[target] for target in Target}

    def text(self) -> str:
        verb = "would send" if self.dry_run else "sent"
        lines = [
            f"Go-live {self.administration}{' (dry run: nothing sent)' if self.dry_run else ''}",
            f"bookings to bring into Millennium: {len(self.bookings)}",
        ]
        lines += [f"  {target.value}: {count}" for target, count in self.per_target().items()]
        lines.append(
            f"already in sync: {self.in_sync}; over: {self.over}; cancelled: {self.cancelled}"
        )
        if self.disagreeing is None:
            lines.append('("in sync" is the crosswalk\'s word: Millennium itself was not asked)')
        elif not self.disagreeing:
            lines.append("(Millennium itself was asked and agrees on every booking in sync)")
        else:
            lines += [
                f"NOT in sync although the crosswalk says so: {len(self.disagreeing)} bookings "
                "that Millennium does not hold as confirmed (not kicked: the workers trust the "
                "crosswalk). Locally: the simulator was started empty (SIMULATOR_RESET); make "
                "reset starts both empty.",
                *(f"  {booking_id}" for booking_id in self.disagreeing[:20]),
            ]
        if self.bookings:
            lines += ["", f"{'booking':<24} {'planned':<12} {verb}"]
            lines += [
                f"{b.booking_id:<24} {b.planned_date:<12} {', '.join(t.value for t in b.targets)}"
                for b in self.bookings
            ]
        else:
            lines += ["", "Nothing to send."]
        if not self.dry_run:
            lines.append(f"kicked: {self.kicked} bookings")
        return "\n".join(lines)

    def as_json(self) -> dict[str, object]:
        """The report for ``--json`` (booking ids, dates and counts only)."""
        return {
            "administration": self.administration,
            "dryRun": self.dry_run,
            "bookings": [
                {
                    "bookingId": b.booking_id,
                    "planned": b.planned_date,
                    "targets": [t.value for t in b.targets],
                }
                for b in self.bookings
            ],
            "perTarget": {target.value: count for target, count in self.per_target().items()},
            "inSync": self.in_sync,
            "over": self.over,
            "cancelled": self.cancelled,
            "kicked": self.kicked,
            "millenniumChecked": self.disagreeing is not None,
            "disagreeing": list(self.disagreeing or ()),
        }


@dataclass
class _Tally:
    bookings: list[GoLiveBooking] = field(default_factory=list)
    in_sync: int = 0
    over: int = 0
    cancelled: int = 0
    kicked: int = 0
    disagreeing: list[str] = field(default_factory=list)
    to_kick: list[tuple[dt.datetime, str, int]] = field(default_factory=list)


def go_live(
    administration: str,
    ports: SyncPorts,
    *,
    dry_run: bool,
    millennium: MillenniumView | None = None,
    bookings_per_second: float = 0.0,
) -> GoLiveReport:
    """Kick (or, dry, list) every booked, not yet over booking of ``administration``.

    With ``millennium``, a booking the crosswalk calls in sync is also checked
    against what Millennium holds, and a disagreement is reported, not hidden.

    ``bookings_per_second`` (0: all at once) paces the go-live as the backlog lane:
    the kicks are scheduled one after another at that rate, soonest operation
    first, so the link never holds a queue of go-live messages in front of a live
    booking change (docs/architecture.md, "Live before backlog").

    Raises:
        GoLiveRefused: the administration is not integrated.
        UnknownAdministration: no profile for it.
        TransientError: the crosswalk or the bus cannot be reached (repeat the run).
    """
    profile = ports.profiles.get(administration)
    if profile.mode is not Mode.INTEGRATED:
        raise GoLiveRefused(
            f"administration {administration} is in mode {profile.mode.value}; set mode = "
            f'"integrated" in profiles/{administration}.toml and mode in its .bicepparam, '
            "deploy, then run the go-live again"
        )
    now = ports.clock()
    tally = _Tally()
    for stored in ports.crosswalk.snapshots_of(administration):
        _consider(
            stored.snapshot,
            now,
            ports,
            tally,
            dry_run=dry_run,
            generation=stored.patient_generation,
            millennium=millennium,
        )
    tally.bookings.sort(key=lambda booking: (booking.planned_date, booking.booking_id))
    _kick_paced(ports, sorted(tally.to_kick), now, bookings_per_second)
    return GoLiveReport(
        administration=administration,
        dry_run=dry_run,
        bookings=tuple(tally.bookings),
        in_sync=tally.in_sync,
        over=tally.over,
        cancelled=tally.cancelled,
        kicked=tally.kicked,
        disagreeing=None if millennium is None else tuple(sorted(tally.disagreeing)),
    )


def _consider(
    snapshot: BookingSnapshot,
    now: dt.datetime,
    ports: SyncPorts,
    tally: _Tally,
    *,
    dry_run: bool,
    generation: int,
    millennium: MillenniumView | None,
) -> None:
    if snapshot.status is BookingStatus.CANCELLED:
        tally.cancelled += 1
        return
    # "Not yet over" rather than "not yet started": an operation under way at the
    # switch still needs its encounter in Millennium to be documented.
    if snapshot.planned_end <= now:
        tally.over += 1
        return
    states = ports.crosswalk.load_targets(snapshot.booking_id)
    missing = _targets_out_of_sync(snapshot, states, generation)
    if not missing:
        found = (
            disagreements(millennium, snapshot.booking_id, generation, states)
            if millennium is not None
            else None
        )
        if found:
            tally.disagreeing.append(snapshot.booking_id)
        else:
            tally.in_sync += 1
        return
    tally.bookings.append(GoLiveBooking(snapshot.booking_id, _planned_date(snapshot), missing))
    if dry_run:
        return
    tally.to_kick.append((snapshot.planned_start, snapshot.booking_id, snapshot.version))
    tally.kicked += 1


def _kick_paced(
    ports: SyncPorts,
    bookings: list[tuple[dt.datetime, str, int]],
    now: dt.datetime,
    bookings_per_second: float,
) -> None:
    for index, (_, booking_id, version) in enumerate(bookings):
        at = (
            now + dt.timedelta(seconds=index / bookings_per_second) if bookings_per_second else None
        )
        # Every target, as intake does: a kick to a target that must wait is cheap,
        # and a skipped one can be a lost wake-up (see shared/sync/intake.py).
        kick_targets(ports, booking_id, KickCause.GO_LIVE, f"v{version}", at=at)


def _targets_out_of_sync(
    snapshot: BookingSnapshot, states: Mapping[Target, TargetState], generation: int
) -> tuple[Target, ...]:
    return tuple(
        target
        for target in Target
        if desired_facts(snapshot, target, generation) != states[target].confirmed
        or states[target].intent is not None
    )


def _planned_date(snapshot: BookingSnapshot) -> str:
    if snapshot.patient.protected_identity:
        return PROTECTED_DATE  # brief §4: a protected booking's time stays out of reports
    return snapshot.planned_start.date().isoformat()


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; builds the app's services from the settings (environment)."""
    parser = argparse.ArgumentParser(
        prog=".venv/bin/python -m shared.golive",
        description="Bring an administration's stored future bookings into Millennium, "
        "after its mode was switched to integrated (docs/jumpout.md). Reads the backends "
        "the settings name (locally: LOCAL_DATA_DIR) and says which.",
    )
    parser.add_argument(
        "administration", help="administration code as in profiles/<CODE>.toml, e.g. SU or su"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="report what would be sent; send nothing"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)  # --help exits here, before anything is read
    from shared.ops.backend_info import backend_description, missing_data_folder
    from shared.services import get_services
    from shared.settings import SettingsError, get_settings

    try:
        settings = get_settings()
    except SettingsError as error:
        print(f"refused: {error}", file=sys.stderr)
        return 2
    missing = missing_data_folder(settings)
    if missing:
        print(f"refused: {missing}", file=sys.stderr)
        return 2
    print(f"Reading {backend_description(settings)}", file=sys.stderr)
    code = args.administration.strip().upper()
    try:
        report = go_live(
            code,
            get_services().sync_ports(),
            dry_run=args.dry_run,
            millennium=_local_millennium_view(settings),
            bookings_per_second=settings.go_live_bookings_per_second,
        )
    except (GoLiveRefused, UnknownAdministration) as refused:
        print(f"refused: {refused}", file=sys.stderr)
        return 2
    print(json.dumps(report.as_json(), indent=2) if args.json else report.text())
    return 0


def _local_millennium_view(settings: Settings) -> MillenniumView | None:
    """Locally, the simulator's holdings; the local-run package is not deployed, so in
    Azure there is none and the report says Millennium was not asked."""
    try:
        from localrun.millennium_view import local_view
    except ImportError:
        return None
    return local_view(settings)


if __name__ == "__main__":
    raise SystemExit(main())
