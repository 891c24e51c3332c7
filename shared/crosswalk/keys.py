"""The rules Azure Table storage sets for names, keys and values, as checks.

``checked.CheckedTableStore`` applies them to every adapter's input, so both
accept exactly the same input.

Azure Table storage rejects some keys, property names and values with an HTTP 400
that names nothing useful. Checking up front gives every adapter the same rules
(a test against SQLite then catches what would fail in Azure) and a clear message.

Messages name the rule that was broken, never the key or value itself: a key that
breaks a rule may be exactly the personal data that must not leak into a log.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from shared.crosswalk.port import Value

MAX_KEY_LENGTH = 512
"""Azure allows 1 KiB of UTF-16 per key; 512 characters always fits."""

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1

_TABLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{2,62}")
_PROPERTY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
_RESERVED_PROPERTIES = frozenset({"PartitionKey", "RowKey", "Timestamp", "ETag"})
# Azure forbids / \ # ? and control characters (C0 and C1) in keys.
_FORBIDDEN_IN_KEY = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")

# Names already checked. Entities reuse a handful of property names millions of
# times, so remembering the good ones makes the check a set lookup.
_known_property_names: set[str] = set()
_known_table_names: set[str] = set()


def check_table_name(table: str) -> None:
    """Raises:
    ValueError: the name is not 3-63 letters/digits starting with a letter.
    """
    if table in _known_table_names:
        return
    if not _TABLE_NAME.fullmatch(table):
        raise ValueError("table names must be 3-63 ASCII letters or digits and start with a letter")
    _known_table_names.add(table)


def check_key(what: str, key: str) -> None:
    """Check a partition or row key; ``what`` names which one for the message.

    Raises:
        ValueError: empty, too long, or containing / \\ # ? or a control character.
    """
    if not isinstance(key, str) or not key:
        raise ValueError(f"{what} must be a non-empty string")
    if len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"{what} is longer than {MAX_KEY_LENGTH} characters")
    bad = _FORBIDDEN_IN_KEY.search(key)
    if bad is not None:
        raise ValueError(
            f"{what} contains a forbidden character (U+{ord(bad.group()):04X} at "
            f"position {bad.start()}); keys may not contain / \\ # ? or control characters"
        )


def check_keys(partition_key: str, row_key: str) -> None:
    """Raises:
    ValueError: see ``check_key``.
    """
    check_key("partition key", partition_key)
    check_key("row key", row_key)


def check_etag(etag: str | None) -> None:
    """Raises:
    ValueError: the etag is an empty string (None means "no condition"; "" is a bug
        that one store would read as unconditional and another as a mismatch).
    """
    if etag is not None and not etag:
        raise ValueError("an etag must be a non-empty string, or None for no condition")


def check_data(data: Mapping[str, Value]) -> None:
    """Check property names and value types.

    Raises:
        ValueError: a property name is reserved or not an identifier, or an int does
            not fit in 64 bits.
        TypeError: a value is not str, int, float or bool.
    """
    for name, value in data.items():
        if name not in _known_property_names:
            _check_property_name(name)
        _check_value(name, value)


def check_property_name(name: str) -> None:
    """Check one property name (e.g. one a query filters on).

    Raises:
        ValueError: reserved, or not an identifier of at most 255 characters.
    """
    if name not in _known_property_names:
        _check_property_name(name)


def _check_property_name(name: str) -> None:
    if not isinstance(name, str) or not _PROPERTY_NAME.fullmatch(name):
        raise ValueError(
            "property names must be identifiers (letters, digits, _) of at most 255 characters"
        )
    if name in _RESERVED_PROPERTIES:
        raise ValueError(f"property name {name!r} is reserved by Table storage")
    _known_property_names.add(name)


def _check_value(name: str, value: object) -> None:
    kind = type(value)
    if kind is str or kind is float or kind is bool:
        return
    if kind is int:
        if not _INT64_MIN <= value <= _INT64_MAX:  # type: ignore[operator]
            raise ValueError(f"property {name!r}: int does not fit in 64 bits")
        return
    raise TypeError(f"property {name!r}: unsupported type {kind.__name__} (str/int/float/bool)")


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix``.

    A prefix query is then the range ``prefix <= key < bound``, which both Table
    storage and a SQLite primary key answer from their index. None means no upper
    bound (the prefix is all U+10FFFF, which no real key uses).
    """
    chars = list(prefix)
    while chars:
        last = ord(chars.pop())
        if last < 0x10FFFF:
            following = last + 1 if last + 1 != 0xD800 else 0xE000  # skip surrogates
            return "".join(chars) + chr(following)
    return None
