"""A small, fast reader of HL7 v2 ER7 (pipe-delimited) text, for the simulator.

The simulator reads a handful of fields from every message, so it splits
segments and fields once and components only when asked. python-hl7's full
parse was tried first and cost about 1 ms per message, a bottleneck for the
44,000-booking benchmark; this reader costs a few microseconds. It is written
independently of the integration's renderer, so the two cannot share a
misreading of the standard.
"""

from __future__ import annotations

import re

_SEGMENT_NAME = re.compile(r"^[A-Z][A-Z0-9]{2}$")
_SEGMENT_SPLIT = re.compile(r"\r\n|\r|\n")


class Er7Error(ValueError):
    """The text is not HL7 v2 ER7 (the message says why, never quoting data)."""


class Er7Message:
    """Segments of one message, with fields numbered as HL7 numbers them.

    ``get("PID", 3, 4, 2)`` is PID-3.4.2 (first repetition, first occurrence of
    the segment), unescaped; absent values are ``""``. For MSH, field 1 is the
    field separator and field 2 the encoding characters, as in the standard.
    """

    def __init__(self, text: str) -> None:
        if not text.startswith("MSH") or len(text) < 8:
            raise Er7Error("message does not start with an MSH segment")
        self.field_separator = text[3]
        encoding = text[4:8]
        if len(set(encoding + self.field_separator)) != 5:
            raise Er7Error("MSH-1/MSH-2 do not declare five distinct delimiters")
        self.component = encoding[0]
        self.repetition = encoding[1]
        self.escape = encoding[2]
        self.subcomponent = encoding[3]
        # ER7 ends every segment with CR, the last one too; kept for the strict check.
        self.last_segment_terminated = text.endswith("\r")
        self._segments: dict[str, list[list[str]]] = {}
        for line in _SEGMENT_SPLIT.split(text):
            if line:
                self._add(line)

    def _add(self, line: str) -> None:
        fields = line.split(self.field_separator)
        name = fields[0]
        if not _SEGMENT_NAME.match(name):
            raise Er7Error(f"segment name {name[:3]!r} is not three letters or digits")
        if name == "MSH":
            fields.insert(1, self.field_separator)  # so that fields[n] is MSH-n
        self._segments.setdefault(name, []).append(fields)

    def text_without_times(self) -> str:
        """The message with MSH-7 and EVN-2 blanked: what stays equal when it is resent."""
        lines = []
        for name, occurrences in self._segments.items():
            for fields in occurrences:
                copy = list(fields)
                if name == "MSH" and len(copy) > 7:
                    copy[7] = ""
                elif name == "EVN" and len(copy) > 2:
                    copy[2] = ""
                lines.append(self.field_separator.join(copy))
        return "\r".join(lines)

    def segments(self) -> list[tuple[str, list[str]]]:
        """Every segment occurrence as (name, raw fields), fields numbered as in HL7."""
        return [(name, fields) for name, found in self._segments.items() for fields in found]

    def raw(self, segment: str, field: int) -> str:
        """One whole field as sent (escaped, every repetition); ``""`` when absent."""
        occurrences = self._segments.get(segment)
        if not occurrences or field >= len(occurrences[0]):
            return ""
        return occurrences[0][field]

    def count(self, segment: str) -> int:
        """How many times ``segment`` occurs."""
        return len(self._segments.get(segment, ()))

    def get(
        self,
        segment: str,
        field: int,
        component: int = 1,
        subcomponent: int = 1,
        *,
        occurrence: int = 1,
    ) -> str:
        """One value (first repetition), unescaped and stripped; ``""`` when absent."""
        occurrences = self._segments.get(segment)
        if not occurrences or len(occurrences) < occurrence:
            return ""
        fields = occurrences[occurrence - 1]
        if field >= len(fields):
            return ""
        value = fields[field]
        if segment == "MSH" and field <= 2:
            return value
        value = value.split(self.repetition, 1)[0]
        value = _nth(value.split(self.component), component)
        value = _nth(value.split(self.subcomponent), subcomponent)
        return self.unescape(value).strip()

    def unescape(self, value: str) -> str:
        """Replace the standard escape sequences (\\F\\ \\S\\ \\T\\ \\R\\ \\E\\) in one pass."""
        if self.escape not in value:
            return value
        replacements = {
            "F": self.field_separator,
            "S": self.component,
            "T": self.subcomponent,
            "R": self.repetition,
            "E": self.escape,
        }
        e = re.escape(self.escape)
        return re.sub(f"{e}([FSTRE]){e}", lambda match: replacements[match[1]], value)


def _nth(parts: list[str], number: int) -> str:
    return parts[number - 1] if len(parts) >= number else ""
