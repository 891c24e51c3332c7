"""Drive a FunctionApp's timer triggers in the local run, on a fixed interval.

Azure calls a timer function on its NCRONTAB schedule (for the clean-up: nightly,
``functions/retention.py``). A local run rarely lasts a night, so it calls every
timer function every ``LOCAL_TIMER_INTERVAL_SECONDS`` instead, the first time one
interval after start (as ``run_on_startup=False`` does in Azure), with a
``func.TimerRequest`` as the host would. One thread runs them one after another,
so a run never overlaps itself; an exception is logged and the next interval
comes as usual (Azure does not retry a failed timer run either).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from azure.functions.timer import TimerRequest

log = logging.getLogger(__name__)

LOCAL_TIMER_INTERVAL_SECONDS = 15 * 60.0
"""How often the local run calls each timer function (Azure: its schedule)."""


@dataclass(frozen=True)
class TimerTrigger:
    name: str
    schedule: str
    function: Callable[..., Any]
    arg_name: str


def timer_triggers(functions: list[Any]) -> list[TimerTrigger]:
    """The timer triggers among ``functions`` (from ``app.get_functions()``)."""
    triggers = []
    for function in functions:
        binding = function.get_trigger().get_dict_repr()
        if binding.get("type") != "timerTrigger":
            continue
        triggers.append(
            TimerTrigger(
                name=function.get_function_name(),
                schedule=str(binding["schedule"]),
                function=function.get_user_function(),
                arg_name=str(binding["name"]),
            )
        )
    return triggers


class Timers:
    """One thread that calls every timer trigger once per interval."""

    def __init__(
        self, functions: list[Any], *, interval_seconds: float = LOCAL_TIMER_INTERVAL_SECONDS
    ) -> None:
        self.triggers = timer_triggers(functions)
        self.interval = interval_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0  # completed rounds (every trigger called once)

    def start(self) -> None:
        if not self.triggers:
            return
        self._thread = threading.Thread(target=self._run, name="timers", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run_once(self) -> None:
        """Call every timer trigger now, one after another."""
        for trigger in self.triggers:
            try:
                trigger.function(**{trigger.arg_name: TimerRequest(past_due=False)})
            except Exception as error:
                # The type only: the text might hold anything.
                log.error("timer function %s failed: %s", trigger.name, type(error).__name__)
        self.runs += 1

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.run_once()
