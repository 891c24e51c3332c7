"""What a Swedish patient identifier says about the person: birth date and sex.

Millennium matches an inbound person on alias *and* demographics; a missed match
creates a duplicate person. PID-7 and PID-8 are therefore derived from the
identifier itself (never from other data, so nothing beyond the identifier is
disclosed, also for a protected identity):

* personnummer ``yyyymmddnnnc``: the birth date, and the third birth-number
  digit (odd: male, even: female);
* samordningsnummer: the same, with 60 added to the day;
* VGR reserve number ``yyyymmdd[KMX]ggC``: the birth date, and the letter
  (K kvinna: female, M man: male, X unknown).
"""

from __future__ import annotations

from shared.identity import IdentifierSystem

_RESERVE_SEX = {"K": "F", "M": "M", "X": "U"}


def birth_date(system: IdentifierSystem, value: str) -> str:
    """PID-7 as an HL7 date ``YYYYMMDD`` (the identifier was validated at intake)."""
    year, month, day = value[:4], value[4:6], int(value[6:8])
    if system is IdentifierSystem.SAMORDNINGSNUMMER:
        day -= 60
    return f"{year}{month}{day:02d}"


def administrative_sex(system: IdentifierSystem, value: str) -> str:
    """PID-8 (HL7 table 0001): ``F``, ``M`` or ``U``."""
    if system is IdentifierSystem.RESERVNUMMER:
        return _RESERVE_SEX.get(value[8], "U")
    return "M" if int(value[10]) % 2 == 1 else "F"
