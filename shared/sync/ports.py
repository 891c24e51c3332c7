"""What the sync handlers need, gathered in one object."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from shared.crosswalk.repository import Crosswalk
from shared.profiles import Profiles
from shared.queue.port import MessageBus
from shared.sync.channel import Channels
from shared.sync.policy import RetryPolicy


@dataclass(frozen=True)
class SyncPorts:
    crosswalk: Crosswalk
    bus: MessageBus
    profiles: Profiles
    channels: Channels  # one per target: how Millennium is reached
    clock: Callable[[], dt.datetime]
    retry: RetryPolicy
