"""The queue file: its tables, and opening it with the pragmas that make it durable
and cheap to commit to."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from shared.errors import QueueUnavailable
from shared.sqlite_checkpoints import BACKSTOP_PAGES

BUSY_TIMEOUT_MS = 10_000
"""How long a write waits for another process's transaction before QueueUnavailable."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    queue          TEXT NOT NULL,
    session_id     TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    message_id     TEXT NOT NULL,
    body           BLOB NOT NULL,
    properties     TEXT NOT NULL,
    enqueued_at    REAL NOT NULL,
    visible_at     REAL NOT NULL,
    delivery_count INTEGER NOT NULL DEFAULT 0,
    lock_token     TEXT,
    PRIMARY KEY (queue, session_id, seq)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS sessions (
    queue      TEXT NOT NULL,
    session_id TEXT NOT NULL,
    due_at     REAL NOT NULL,
    lock_token TEXT,
    PRIMARY KEY (queue, session_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sessions_by_due ON sessions (queue, due_at);

CREATE TABLE IF NOT EXISTS recent_message_ids (
    queue      TEXT NOT NULL,
    message_id TEXT NOT NULL,
    sent_at    REAL NOT NULL,
    PRIMARY KEY (queue, message_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO counters (name, value) VALUES ('sequence', 0);

CREATE TABLE IF NOT EXISTS dead_letters (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    queue            TEXT NOT NULL,
    session_id       TEXT NOT NULL,
    message_id       TEXT NOT NULL,
    body             BLOB NOT NULL,
    properties       TEXT NOT NULL,
    reason           TEXT NOT NULL,
    description      TEXT NOT NULL,
    delivery_count   INTEGER NOT NULL,
    enqueued_at      REAL NOT NULL,
    dead_lettered_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_by_message ON dead_letters (queue, message_id);

CREATE TABLE IF NOT EXISTS doorbells (
    port INTEGER PRIMARY KEY,
    pid  INTEGER NOT NULL
);
"""
"""Why so few indexes: every b-tree is another page written at each commit, and the
commit is what a message costs (hence also WITHOUT ROWID: the key is the table).
A session's messages sit together under (queue, session_id); it has few, so sorting
them by (visible_at, seq) when receiving is cheap. ``sessions.due_at`` does double duty: for an
unlocked session it is when its first message becomes visible, for a locked one
when the lock expires. Either way "due_at <= now" means "a receiver may take it",
so one index finds ready sessions and expired locks alike, never scanning sessions
that are locked. A session row exists exactly while the session has messages. A
message's ``seq`` is its sequence number, from the ``counters`` table: unique and
growing (with gaps), like Service Bus's. ``doorbells`` lists the loopback UDP ports
of the processes whose receivers wait on the file (see ``doorbell``)."""


def open_queue_file(path: Path) -> sqlite3.Connection:
    """Open (and if needed create) the queue file, in autocommit mode: every write
    names its own transaction.

    Raises:
        QueueUnavailable: the file could not be opened or created.
    """
    try:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        # Measured: a 64 MiB page cache halves the cost of a commit with a backlog of
        # 100,000 messages. Checkpoints run on a thread of their own
        # (shared.sqlite_checkpoints); the automatic one is only a backstop.
        db.execute("PRAGMA cache_size = -65536")
        db.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_PAGES}")
        db.execute("PRAGMA temp_store = MEMORY")
        db.execute("BEGIN IMMEDIATE")
        for statement in SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        db.execute("COMMIT")
    except sqlite3.Error as exc:
        raise QueueUnavailable(f"embedded queue file could not be opened: {exc}") from exc
    return db
