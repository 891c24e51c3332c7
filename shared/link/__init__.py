"""The Millennium link: a connection budget that holds across every instance.

* :mod:`shared.link.leases` — the lease port: N slots, each held by at most one
  connection of the whole stamp at a time.
* :mod:`shared.link.sqlite_leases` — slots in a SQLite file (the local run, and
  any processes sharing its data folder).
* :mod:`shared.link.blob_leases` — slots as blob leases on the stamp's storage
  account (Azure).
* :mod:`shared.link.budget` — the MLLP link that opens a connection only while
  it holds a slot, paces its sends, and closes idle connections.
"""
