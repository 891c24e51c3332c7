"""Which backends an operator command reads, in words, and the local data folder check.

An operator who mistypes ``LOCAL_DATA_DIR`` must not get "No dead letters." from
a freshly created, empty database: the commands name what they read and refuse
a local data folder that does not exist.
"""

from __future__ import annotations

from pathlib import Path

from shared.settings import Settings


def backend_description(settings: Settings) -> str:
    """E.g. "crosswalk: SQLite in /x/.local; queue: embedded in /x/.local"."""
    folder = settings.local_data_dir
    crosswalk = (
        f"Table storage {settings.table_endpoint or '(CROSSWALK_TABLE_ENDPOINT not set)'}"
        if settings.crosswalk_backend == "table"
        else f"SQLite in {folder}"
    )
    queue = (
        f"Service Bus {settings.service_bus_namespace or '(namespace not set)'}"
        if settings.queue_backend == "servicebus"
        else f"embedded in {folder}"
    )
    return f"crosswalk: {crosswalk}; queue: {queue}"


def uses_local_folder(settings: Settings) -> bool:
    return settings.crosswalk_backend == "sqlite" or settings.queue_backend == "embedded"


def is_local(settings: Settings) -> bool:
    """Both backends in the local data folder: a local run's world."""
    return settings.crosswalk_backend == "sqlite" and settings.queue_backend == "embedded"


def missing_data_folder(settings: Settings) -> str | None:
    """Why the command must not run (the data folder is missing), or None."""
    folder = Path(settings.local_data_dir)
    if not uses_local_folder(settings) or any(
        (folder / name).exists() for name in ("crosswalk.sqlite3", "queue.sqlite3")
    ):
        return None
    if not folder.is_dir():
        return (
            f"The data folder {folder} does not exist. Check LOCAL_DATA_DIR (the local run "
            "prints its data folder when it starts); nothing was read or created."
        )
    return (
        f"The data folder {folder} holds no crosswalk or queue: no local run has used it. "
        "Check LOCAL_DATA_DIR; nothing was read or created."
    )
