"""HL7 v2.5.1 for Millennium: rendering, acknowledgments, control ids.

Modules, one concept each:

* ``er7``: delimiters, escaping and timestamps of the ER7 (pipe) encoding.
* ``segments``: one function per segment, fed from facts and the profile.
* ``render``: which segments make up each message (brief §5).
* ``encoding``: text → bytes exactly as MSH-18 declares.
* ``ack``: parse and build acknowledgments; read MSH-9/MSH-10 cheaply.
* ``control_id``: deterministic MSH-10 values.
* ``validate``: strict validation with hl7apy (tests, benchmark, simulator).
* ``examples``: the example messages of ``docs/hl7-mapping.md``.

The package imports nothing heavy: hl7apy is only imported inside ``validate``.
"""
