"""An embedded durable queue with Service Bus semantics, for the local run.

One SQLite file (WAL, ``synchronous=NORMAL``) holds every queue. A ``send`` that
returned survives ``kill -9`` of the process; a batch is one transaction, so it is
stored whole or not at all. It mimics Service Bus's duplicate detection, scheduled
messages, sessions, peek-lock, delivery count and dead letters.

Where to read what:

* ``queue``: ``EmbeddedQueue``, the public methods; start here.
* ``send``: checking and storing a batch, sequence numbers, duplicate detection.
* ``receive``: session receive, peek-lock, complete/abandon, lock expiry, the
  delivery count that ends in a dead letter.
* ``deadletters``: parking, listing and purging dead letters.
* ``inspection``: ``has_work`` and ``next_due``, cheap enough to poll.
* ``schema``: the tables and why they are shaped so, opening the file.
* ``commit``: one connection per process behind a lock, and the group commit that
  shares one transaction among threads.
* ``wakeups``: waking this process's waiting receivers.
* ``doorbell``: waking other processes' receivers (a UDP datagram on loopback).
* ``values``: the values, errors and conversions the modules share.

Why it stays cheap with a large backlog: a receive takes the first due session from
an index, so it never scans locked sessions or other sessions' messages. A message
costs three small commits (send, receive, complete), and a commit costs about one
page write per b-tree it touches. ``receive(max_sessions=…)`` and ``complete_many``
share one commit among many messages explicitly; the group commit does so for
operations that threads submit while another commits.
"""

from shared.queue.embedded.queue import EmbeddedQueue
from shared.queue.embedded.values import (
    MAX_DELIVERY_COUNT_EXCEEDED,
    DeadLetterNotFound,
    LockLost,
    ParkedLetter,
    ReceivedMessage,
)

__all__ = [
    "MAX_DELIVERY_COUNT_EXCEEDED",
    "DeadLetterNotFound",
    "EmbeddedQueue",
    "LockLost",
    "ParkedLetter",
    "ReceivedMessage",
]
