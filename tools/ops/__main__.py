"""``.venv/bin/python -m tools.ops``: the operator's command line.

    .venv/bin/python -m tools.ops booking OB-2026-000123 [--json] [--show-patient]
    .venv/bin/python -m tools.ops deadletters list [--json]
    .venv/bin/python -m tools.ops deadletters show ID [--json]
    .venv/bin/python -m tools.ops deadletters resubmit ID [ID ...] | --reason REASON [--json]
    .venv/bin/python -m tools.ops deadletters purge ID [ID ...] | --reason REASON [--yes] [--json]
    .venv/bin/python -m tools.ops retention [--dry-run] [--max-deletes N] [--seconds S] [--json]

It reads the backends the settings name (locally the data folder LOCAL_DATA_DIR,
in Azure the stamp's Table endpoint and Service Bus namespace), says which on
stderr, and refuses a local data folder that does not exist. ``--show-patient``
needs the operators' key in the environment variable ``ORBITSYNC_OPS_KEY`` (one
of ``OPS_ADMIN_SECRETS``) and is written to the booking's audit trail. Exit
codes: 0 done, 1 nothing found / not done, 2 usage or refused, 3 a backend could
not be reached.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

from shared.deadletters.operations import (
    find_letter,
    group_by_reason,
    purge_letters,
    resubmit_letters,
    with_reason,
)
from shared.deadletters.port import Letter, LetterNotFound
from shared.errors import TransientError
from shared.ops.admin_key import ADMIN_KEY_ENV, is_authorised
from shared.ops.backend_info import backend_description, missing_data_folder
from shared.ops.booking_trace import booking_trace
from shared.ops.http_api import is_booking_id
from shared.ops.purge_check import stranded_by_purge
from shared.ops.resubmit_check import unfixed_cause
from shared.profiles import Profiles, load_profiles
from shared.settings import Settings, SettingsError, read_settings
from tools.ops.backends import Backends, open_backends
from tools.ops.render import (
    letter_json,
    letter_text,
    letters_text,
    retention_text,
    trace_text,
)

EXIT_OK, EXIT_NOTHING, EXIT_REFUSED, EXIT_UNAVAILABLE = 0, 1, 2, 3
CLI = ".venv/bin/python -m tools.ops"

Confirm = Callable[[str], str]


def main(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    confirm: Confirm = input,
    environ: Mapping[str, str] | None = None,
    err: TextIO | None = None,
) -> int:
    """Run one command; returns the exit code (see the module docstring)."""
    args = _parser().parse_args(argv)  # --help exits here, before anything is opened
    stdout = out or sys.stdout
    stderr = err or sys.stderr
    env = os.environ if environ is None else environ
    try:
        settings = read_settings()
    except SettingsError as error:
        print(f"Cannot start: {error}", file=stdout)
        return EXIT_REFUSED
    missing = missing_data_folder(settings)
    if missing:
        print(missing, file=stdout)
        return EXIT_REFUSED
    print(f"Reading {backend_description(settings)}", file=stderr)
    try:
        backends = open_backends(settings)
    except ValueError as error:
        print(f"Cannot start: {error}", file=stdout)
        return EXIT_REFUSED
    except TransientError as error:
        print(f"Cannot reach the backends: {error}", file=stdout)
        return EXIT_UNAVAILABLE
    try:
        if args.command == "booking":
            return _booking(args, backends, stdout, settings, env)
        if args.command == "retention":
            return _retention(args, backends, stdout)
        return _deadletters(args, backends, stdout, confirm, settings)
    except TransientError as error:
        print(f"Cannot reach the backends: {error}. Nothing more was changed.", file=stdout)
        return EXIT_UNAVAILABLE
    finally:
        backends.close()


JSON_HELP = "print JSON instead of text (for scripts)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=CLI,
        description=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    booking = commands.add_parser(
        "booking",
        help="where is booking X: its whole trace",
        description="One booking's trace: snapshot, targets (desired vs. confirmed), events, "
        "HL7 messages with ACKs, blocks, dead letters; locally also what the simulator's "
        "Millennium holds. No personal data unless --show-patient.",
    )
    booking.add_argument("booking_id", help="the Orbit booking id, e.g. OB-2026-000123")
    booking.add_argument("--json", action="store_true", help=JSON_HELP)
    booking.add_argument(
        "--show-patient",
        action="store_true",
        help=f"include the patient (needs the operators' key in {ADMIN_KEY_ENV}; audited)",
    )
    letters = commands.add_parser(
        "deadletters",
        help="list, show, resubmit or purge dead letters",
        description="Dead letters: messages the integration could not process, with a reason.",
    )
    actions = letters.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="dead letters grouped by reason")
    listing.add_argument("--json", action="store_true", help=JSON_HELP)
    show = actions.add_parser("show", help="one dead letter in full")
    show.add_argument("letter_id", help="the id that deadletters list prints")
    show.add_argument("--json", action="store_true", help=JSON_HELP)
    for name, text in (
        ("resubmit", "send back to work after the cause is fixed (checked first)"),
        (
            "purge",
            "delete for good; a letter whose booking's target is still blocked is refused "
            "(after a purge nothing could retry it: fix the cause and resubmit)",
        ),
    ):
        action = actions.add_parser(name, help=text, description=text)
        action.add_argument(
            "letter_ids", nargs="*", metavar="ID", help="dead letter ids (from deadletters list)"
        )
        action.add_argument("--reason", help="every dead letter with this reason, instead of IDs")
        action.add_argument("--json", action="store_true", help=JSON_HELP)
        if name == "purge":
            action.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    _retention_parser(commands)
    return parser


def _retention_parser(commands: Any) -> None:
    from shared.retention.cleanup import DEFAULT_MAX_DELETES, DEFAULT_TIME_BUDGET

    text = (
        "Remove the rows past their retention age now, as the nightly timer "
        "(retention_cleanup) does: old webhook deliveries, launch codes never followed, "
        "signed launch requests, and audit rows older than RETENTION_AUDIT_DAYS. Bounded "
        "like the timer; run it again to continue. docs/operations.md, 'Retention'."
    )
    retention = commands.add_parser(
        "retention", help="remove rows past their retention age now", description=text
    )
    retention.add_argument(
        "--dry-run", action="store_true", help="count what is due and change nothing"
    )
    retention.add_argument(
        "--max-deletes",
        type=int,
        default=DEFAULT_MAX_DELETES,
        metavar="N",
        help=f"stop after N deletes (default {DEFAULT_MAX_DELETES})",
    )
    retention.add_argument(
        "--seconds",
        type=float,
        default=DEFAULT_TIME_BUDGET.total_seconds(),
        metavar="S",
        help=f"stop after about S seconds (default {DEFAULT_TIME_BUDGET.total_seconds():.0f})",
    )
    retention.add_argument("--json", action="store_true", help=JSON_HELP)


def _retention(args: argparse.Namespace, backends: Backends, out: TextIO) -> int:
    import datetime as dt

    from shared.retention.report import STOP_MISCONFIGURED, STOP_UNAVAILABLE
    from shared.retention.run import run_clean_up

    assert backends.services is not None  # open_backends always sets it
    report = run_clean_up(
        backends.services,
        max_deletes=max(0, args.max_deletes),
        time_budget=dt.timedelta(seconds=max(0.0, args.seconds)),
        dry_run=args.dry_run,
    )
    if args.json:
        print(json.dumps(report.as_json(), indent=2), file=out)
    else:
        print(retention_text(report, backends.services.settings.retention), file=out)
    if report.stopped == STOP_MISCONFIGURED:
        return EXIT_REFUSED
    return EXIT_UNAVAILABLE if report.stopped == STOP_UNAVAILABLE else EXIT_OK


def _booking(
    args: argparse.Namespace,
    backends: Backends,
    out: TextIO,
    settings: Settings,
    env: Mapping[str, str],
) -> int:
    if not is_booking_id(args.booking_id):
        # Not echoed: it may be anything, an identity number pasted by mistake too.
        print(
            "Invalid booking id: use the Orbit booking id as it appears in alerts and logs, "
            "e.g. OB-2026-000123.",
            file=out,
        )
        return EXIT_REFUSED
    if args.show_patient and not is_authorised(env.get(ADMIN_KEY_ENV), settings.ops_admin_secrets):
        print(
            f"--show-patient needs one of the operators' keys (OPS_ADMIN_SECRETS) in "
            f"{ADMIN_KEY_ENV}. Without it the trace shows no personal data.",
            file=out,
        )
        return EXIT_REFUSED
    trace = booking_trace(
        args.booking_id,
        backends.crosswalk,
        parked=backends.dead_letters.letters(),
        show_patient=args.show_patient,
        accessed_by="cli",
        clock=backends.clock,
        millennium=_millennium_view(settings),
    )
    if trace is None:
        print(
            f"Booking {args.booking_id} is not known to the integration (no event, no "
            "record). Check the id; if Orbit sent it, look for rejected webhook "
            "deliveries (docs/operations.md, 'Where is booking X').",
            file=out,
        )
        return EXIT_NOTHING
    print(
        json.dumps(trace, ensure_ascii=False, indent=2) if args.json else trace_text(trace),
        file=out,
    )
    return EXIT_OK


def _millennium_view(settings: Settings) -> Any:
    from localrun.millennium_view import local_view

    return local_view(settings, all_at_once=False)


def _deadletters(
    args: argparse.Namespace, backends: Backends, out: TextIO, confirm: Confirm, settings: Settings
) -> int:
    letters = backends.dead_letters.letters()
    if args.action == "list":
        if args.json:
            print(json.dumps([letter_json(x) for x in letters], indent=2), file=out)
        else:
            print(letters_text(group_by_reason(letters)), file=out)
        return EXIT_OK
    try:
        if args.action == "show":
            letter = find_letter(letters, args.letter_id)
            text = json.dumps(letter_json(letter), indent=2) if args.json else letter_text(letter)
            print(text, file=out)
            return EXIT_OK
        chosen = _choose(letters, args.letter_ids, args.reason)
    except (LetterNotFound, ValueError) as error:
        print(str(error), file=out)
        return EXIT_NOTHING if isinstance(error, LetterNotFound) else EXIT_REFUSED
    if not chosen:
        print(f"No dead letters with reason {args.reason!r}.", file=out)
        return EXIT_NOTHING
    if args.action == "resubmit":
        return _resubmit(chosen, backends, out, settings, as_json=args.json)
    return _purge(chosen, backends, out, confirm, assume_yes=args.yes, as_json=args.json)


def _choose(letters: Sequence[Letter], ids: Sequence[str], reason: str | None) -> list[Letter]:
    """The letters named by id (each once, in the order first named), or all of a
    reason (exactly one of the two). A repeated id would resubmit a letter twice.

    Raises:
        ValueError: both or neither were given.
        LetterNotFound: an id is not listed.
    """
    if bool(ids) == bool(reason):
        raise ValueError("Name dead letters by ID, or give --reason REASON (not both).")
    if reason:
        return with_reason(letters, reason)
    return [find_letter(letters, letter_id) for letter_id in dict.fromkeys(ids)]


def _resubmit(
    chosen: Sequence[Letter], backends: Backends, out: TextIO, settings: Settings, *, as_json: bool
) -> int:
    try:
        profiles = load_profiles(settings.profiles_dir)
    except (OSError, ValueError) as error:
        print(
            f"Nothing resubmitted: the profiles do not read ({error}). The app keeps using the "
            "previous ones, so a resubmitted message would fail again; fix the file first.",
            file=out,
        )
        return EXIT_REFUSED
    ready, refused = _checked(chosen, backends, profiles)
    done = resubmit_letters(
        backends.dead_letters, ready, crosswalk=backends.crosswalk, clock=backends.clock
    )
    if as_json:
        print(json.dumps(_outcome_json(chosen, done, refused), indent=2), file=out)
        return EXIT_OK if done else EXIT_NOTHING
    for letter in chosen:
        if letter.id in refused:
            print(f"NOT resubmitted: {letter.id} ({letter.reason}): {refused[letter.id]}", file=out)
            continue
        state = "resubmitted" if letter.id in done else "already gone"
        print(
            f"{state}: {letter.id} ({letter.reason}) → {letter.source_queue}, "
            f"booking {letter.booking_id}",
            file=out,
        )
    print(
        f"{len(done)} of {len(chosen)} resubmitted. Check a booking with: {CLI} booking <id>",
        file=out,
    )
    return EXIT_OK if done else EXIT_NOTHING


def _checked(
    chosen: Sequence[Letter], backends: Backends, profiles: Profiles
) -> tuple[list[Letter], dict[str, str]]:
    """The letters whose cause looks fixed, and why each of the others is not."""
    refused = {}
    for letter in chosen:
        why = unfixed_cause(letter, backends.crosswalk, profiles)
        if why:
            refused[letter.id] = why
    return [letter for letter in chosen if letter.id not in refused], refused


def _outcome_json(
    chosen: Sequence[Letter], done: Sequence[str], refused: Mapping[str, str]
) -> dict[str, Any]:
    return {
        "done": list(done),
        "refused": [{"id": key, "why": why} for key, why in refused.items()],
        "alreadyGone": [
            letter.id for letter in chosen if letter.id not in done and letter.id not in refused
        ],
    }


def _purge(
    chosen: Sequence[Letter],
    backends: Backends,
    out: TextIO,
    confirm: Confirm,
    *,
    assume_yes: bool,
    as_json: bool,
) -> int:
    refused = _stranded(chosen, backends)
    ready = [letter for letter in chosen if letter.id not in refused]
    if not as_json:
        for letter in chosen:
            if letter.id in refused:
                print(f"NOT purged: {letter.id} ({letter.reason}): {refused[letter.id]}", file=out)
    if ready and not assume_yes and not _confirmed(ready, out, confirm):
        print("Nothing purged.", file=out)
        return EXIT_REFUSED
    done = (
        purge_letters(
            backends.dead_letters, ready, crosswalk=backends.crosswalk, clock=backends.clock
        )
        if ready
        else []
    )
    if as_json:
        print(json.dumps(_outcome_json(chosen, done, refused), indent=2), file=out)
    else:
        print(f"{len(done)} of {len(chosen)} purged.", file=out)
    return EXIT_OK if done else EXIT_NOTHING


def _stranded(chosen: Sequence[Letter], backends: Backends) -> dict[str, str]:
    """Why each letter whose purge would leave its booking blocked for good is refused.

    Raises:
        TransientError: the crosswalk is unreachable.
    """
    refused = {}
    for letter in chosen:
        why = stranded_by_purge(letter, backends.crosswalk)
        if why:
            refused[letter.id] = why
    return refused


def _confirmed(ready: Sequence[Letter], out: TextIO, confirm: Confirm) -> bool:
    reasons = ", ".join(sorted({letter.reason for letter in ready}))
    print(
        f"Purge deletes {len(ready)} dead letter(s) ({reasons}) for good: nothing will "
        "process them again.",
        file=out,
    )
    try:
        answer = confirm("Type 'yes' to purge: ")
    except EOFError:
        answer = ""
    return answer.strip().lower() == "yes"


if __name__ == "__main__":
    sys.exit(main())
