"""Hand-written HL7 messages for poking the simulator (tests, manual runs).

Deliberately independent of the integration's renderer: the simulator's tests
must not depend on the code the simulator exists to test. Only the fields the
simulator reads are filled in, as strictly as the simulator reads them: every
segment ends with CR, times are Europe/Stockholm with their offset, the expected
stay is in PV2-10. Callers pass synthetic identity numbers.
"""

from __future__ import annotations

PERSONNUMMER_OID = "1.2.752.129.2.1.3.1"
UTF8 = "UNICODE UTF-8"
LATIN1 = "8859/1"


def msh(message_type: str, control_id: str, charset: str = UTF8) -> str:
    """An MSH segment from ORBIT to MILLENNIUM (``message_type`` like ``ADT^A05``)."""
    structure = message_type.replace("^", "_")
    return (
        f"MSH|^~\\&|ORBIT|SU|MILLENNIUM|SU|20261122081500+0100||{message_type}^{structure}"
        f"|{control_id}|T|2.5.1|||||SE|{charset}"
    )


def patient(identifier: str, family: str, given: str, *, protected: bool = False) -> list[str]:
    """PID (identifier with its OID, name) and PD1 (protection flag)."""
    return [
        f"PID|1||{identifier}^^^&{PERSONNUMMER_OID}&ISO^NNSWE||{family}^{given}^^^^^L",
        f"PD1|||||||||||{'Y' if protected else 'N'}",
    ]


def pv1(visit_number: str, location: str = "ORTAVD1", patient_class: str = "P") -> str:
    """PV1 with class (PV1-2), location (PV1-3), type (PV1-18) and visit number (PV1-19)."""
    fields = [""] * 45
    fields[1], fields[2] = "1", patient_class
    fields[3] = f"{location}^^^SU" if location else ""
    fields[18], fields[19] = "SURG", f"{visit_number}^^^ORBIT&&L^VN"
    fields[44] = "20261130180000+0100"
    return "PV1" + "|".join(fields).rstrip("|")


def adt(
    event: str,
    control_id: str,
    visit_number: str,
    identifier: str,
    *,
    family: str = "Åkerström",
    given: str = "Märta",
    location: str = "ORTAVD1",
    charset: str = UTF8,
) -> str:
    """An ADT message (``event`` like ``A05``) for one booking's encounter or admit."""
    segments = [
        msh(f"ADT^{event}", control_id, charset),
        f"EVN|{event}|20261122081500+0100",
        *patient(identifier, family, given),
        pv1(visit_number, location),
    ]
    if event in ("A14", "A27"):
        segments.append("PV2||||||||20261130180000+0100||3")
    return "".join(segment + "\r" for segment in segments)


def siu(
    event: str,
    control_id: str,
    placer_id: str,
    identifier: str,
    *,
    visit_number: str | None = None,
    family: str = "Åkerström",
    given: str = "Märta",
    start: str = "20261201080000+0100",
    unit: str = "OPSAL",
    charset: str = UTF8,
) -> str:
    """A SIU message (``event`` like ``S12``) for one booking's appointment; an S13 or
    S14 says of each resource that it stays (segment action code ``U``)."""
    action = "U" if event in ("S13", "S14") else ""
    return "".join(
        segment + "\r"
        for segment in [
            msh(f"SIU^{event}", control_id, charset),
            f"SCH|{placer_id}^ORBIT||||||NFB49^Primär total höftledsplastik^KVA||||"
            f"^^M120^{start}^20261201100000+0100||||||||||||||BOOKED",
            *patient(identifier, family, given),
            pv1(visit_number or placer_id, location=""),
            f"RGS|1|{action}".rstrip("|"),
            f"AIS|1|{action}|NFB49^Primär total höftledsplastik^KVA|{start}|||120|min",
            f"AIL|1|{action}|{unit}^SAL 5^^SU|||{start}|||120|min",
        ]
    )
