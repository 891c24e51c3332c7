"""Before a dead letter is purged: would the purge leave its booking stuck for good?

A kick's letter stands for its target's block. A block on an in-doubt message is
lifted only by a resubmit (cause ``resubmit``); any other block is lifted by a
resubmit, or by a new Orbit version that changes what that target asks for
(shared/sync/worker.py ``_still_blocked``), which a theatre change, say, does not
do for the encounter. After a purge there is no letter left to resubmit, so a
letter whose target is still blocked is refused.
"""

from __future__ import annotations

from shared.crosswalk.repository import Crosswalk
from shared.deadletters.port import Letter
from shared.messages import TARGET_OF_QUEUE


def stranded_by_purge(letter: Letter, crosswalk: Crosswalk) -> str | None:
    """Why purging ``letter`` would leave its booking blocked with nothing to retry
    it, or None when it would not (an Orbit event, or a target no longer blocked).

    Raises:
        TransientError: the crosswalk is unreachable.
    """
    target = TARGET_OF_QUEUE.get(letter.source_queue)
    if target is None or not letter.booking_id:
        return None
    if crosswalk.load_targets(letter.booking_id)[target].blocked is None:
        return None
    return (
        f"booking {letter.booking_id}'s {target} is still blocked by this; after a purge "
        "nothing could retry it. Fix the cause and resubmit"
    )
