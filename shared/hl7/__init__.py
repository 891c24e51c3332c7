"""HL7 v2.5.1 for Millennium: the HL7 v2 channel and what it is made of.

Modules, one concept each:

* ``channel``: the channel of one target: operation → message → outcome.
* ``triggers``: which trigger event carries each neutral operation.
* ``er7``: delimiters, escaping and timestamps of the ER7 (pipe) encoding.
* ``segments``: one function per segment, fed from facts and the profile.
* ``render``: which segments make up each message (brief §5).
* ``encoding``: text → bytes exactly as MSH-18 declares.
* ``ack``: parse and build acknowledgments; read MSH-9/MSH-10 cheaply.
* ``control_id``: deterministic MSH-10 values.

Strict validation with hl7apy and the documentation's examples live in
``docgen/`` (tests, benchmarks and docs only; never deployed).
"""
