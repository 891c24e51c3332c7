r"""The lease port: ``slots`` tokens, each held by at most one holder at a time.

A connection to Millennium may only be open while its process holds one slot's
lease, so the number of open connections of the whole stamp never exceeds the
number of slots (``MILLENNIUM_MLLP_MAX_CONNECTIONS``), however many instances
and threads Azure runs. A lease lapses by itself after ``duration`` seconds
unless renewed, so a crashed process frees its slot without anyone's help.

A holder keeps its connection open between bursts (a reconnect per message
would be rude to the interface engine) but gives it up soon when another
process says it `want`\ s the slot: that is how a busy instance and an idle one
share a budget of one connection.
"""

from __future__ import annotations

from typing import Protocol

from shared.errors import LinkUnavailable


class LeaseStore(Protocol):
    """Raises (every method): TransientError when the store cannot be reached."""

    @property
    def duration(self) -> float:
        """Seconds a lease lasts without renewal."""
        ...

    def try_acquire(self, slot: int) -> str | None:
        """Take ``slot`` if no live lease holds it; return the lease id, or None."""
        ...

    def renew(self, slot: int, lease_id: str) -> bool:
        """Extend the lease; False when it lapsed and was taken or is not ours."""
        ...

    def release(self, slot: int, lease_id: str) -> None:
        """Give the slot up (nothing happens when the lease is no longer ours)."""
        ...

    def want(self, slot: int) -> None:
        """Note that a sender elsewhere waits for ``slot`` (best effort)."""
        ...

    def wanted_at(self, slot: int) -> float:
        """Wall-clock time (Unix seconds) of the latest `want` of ``slot``; 0 if never."""
        ...


class UnconfiguredLeases:
    """The lease store when its setting is missing or malformed: every use says so
    (`LinkUnavailable`: nothing is sent, the send is retried later), so a wrong
    setting stops the Millennium link and nothing else."""

    duration = 30.0

    def __init__(self, problem: str) -> None:
        self.problem = problem

    def try_acquire(self, slot: int) -> str | None:
        raise LinkUnavailable(f"the Millennium link budget is not configured ({self.problem})")

    def renew(self, slot: int, lease_id: str) -> bool:
        return False

    def release(self, slot: int, lease_id: str) -> None:
        return None

    def want(self, slot: int) -> None:
        return None

    def wanted_at(self, slot: int) -> float:
        return 0.0
