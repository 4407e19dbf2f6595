"""A small iCalendar (RFC 5545) writer for session invitations.

Pure: no database, no clock, no translation. The caller hands in an :class:`Invitation`
with everything already worded; this module escapes the text values (``\\``, ``;``, ``,``
and line breaks), writes instants in UTC (``Z``), ends lines with CRLF and folds them at 75
octets without ever splitting a UTF-8 character (Chinese names and summaries are common).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

PRODID = "-//medcircle//Remote consultation sessions//EN"
CRLF = "\r\n"
# the longest line RFC 5545 allows, in octets, without the line break
MAX_OCTETS = 75

METHOD_REQUEST = "REQUEST"
METHOD_CANCEL = "CANCEL"

# control characters a TEXT value may not hold (HTAB and line breaks are handled apart)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# characters a parameter value may not hold even when quoted
_PARAM_BAD = re.compile(r'["\x00-\x08\x0a-\x1f\x7f]')


@dataclass(frozen=True)
class Person:
    """An organiser or attendee: a name, and an email address when known. Without an address
    the person is named (CN) and identified by ``uri`` (no ``mailto``)."""

    name: str
    email: str | None = None
    uri: str | None = None


@dataclass(frozen=True)
class Invitation:
    uid: str
    sequence: int
    stamp: datetime
    starts_at: datetime
    ends_at: datetime
    summary: str
    description: str
    location: str
    url: str
    organizer: Person
    attendees: list[Person] = field(default_factory=list)
    cancelled: bool = False


def clean_text(text: str) -> str:
    """The text as it can travel in a TEXT value: line breaks as ``\\n``, no other control
    characters (a tab stays)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


def escape_text(text: str) -> str:
    """A TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma and newline escaped."""
    text = clean_text(text)
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def unescape_text(value: str) -> str:
    """The reverse of :func:`escape_text` (``\\N`` is a newline too)."""
    out: list[str] = []
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            nxt = value[i + 1]
            out.append("\n" if nxt in "nN" else nxt)
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def fold(line: str) -> str:
    """One content line folded to at most 75 octets a line (continuations start with a
    space, which counts), split only between characters, each line ended by CRLF."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    limit = MAX_OCTETS
    for ch in line:
        width = len(ch.encode("utf-8"))
        if size + width > limit:
            pieces.append("".join(current))
            current, size = [], 0
            # a continuation line starts with one space, leaving 74 octets of content
            limit = MAX_OCTETS - 1
        current.append(ch)
        size += width
    pieces.append("".join(current))
    return (CRLF + " ").join(pieces) + CRLF


def unfold(text: str) -> list[str]:
    """The content lines of a calendar stream: CRLF followed by a space or tab removed."""
    joined = re.sub(r"\r\n[ \t]", "", text)
    return [line for line in joined.split(CRLF) if line]


def utc(value: datetime) -> str:
    """An instant as a DATE-TIME in UTC ("20261201T083000Z")."""
    if value.tzinfo is None:
        raise ValueError("an invitation needs timezone-aware instants")
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _param(value: str) -> str:
    """A parameter value, always quoted (names may hold ``:``, ``;`` or ``,``)."""
    return '"' + _PARAM_BAD.sub("", value) + '"'


def _address(person: Person) -> str:
    if person.email:
        return "mailto:" + person.email
    return person.uri or "urn:invalid:no-address"


def _person_line(name: str, person: Person, extra: str = "") -> str:
    return f"{name};CN={_param(person.name)}{extra}:{_address(person)}"


def lines_of(inv: Invitation) -> list[str]:
    """The unfolded content lines of the invitation's calendar."""
    method = METHOD_CANCEL if inv.cancelled else METHOD_REQUEST
    out = [
        "BEGIN:VCALENDAR",
        f"PRODID:{PRODID}",
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
        f"METHOD:{method}",
        "BEGIN:VEVENT",
        f"UID:{escape_text(inv.uid)}",
        f"SEQUENCE:{inv.sequence}",
        f"DTSTAMP:{utc(inv.stamp)}",
        f"DTSTART:{utc(inv.starts_at)}",
        f"DTEND:{utc(inv.ends_at)}",
        f"SUMMARY:{escape_text(inv.summary)}",
        f"DESCRIPTION:{escape_text(inv.description)}",
        f"LOCATION:{escape_text(inv.location)}",
        # URL is a URI value: not escaped, but no line breaks
        f"URL:{clean_text(inv.url).replace(chr(10), '')}",
        _person_line("ORGANIZER", inv.organizer),
    ]
    for a in inv.attendees:
        out.append(
            _person_line(
                "ATTENDEE",
                a,
                ";CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION",
            )
        )
    out += [
        f"STATUS:{'CANCELLED' if inv.cancelled else 'CONFIRMED'}",
        "TRANSP:OPAQUE",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return out


def render(inv: Invitation) -> str:
    """The whole ``text/calendar`` body, folded, CRLF line ends."""
    return "".join(fold(line) for line in lines_of(inv))
