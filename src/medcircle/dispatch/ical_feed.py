"""An iCalendar (RFC 5545) calendar of many all-day visits, for an expert's roster.

Pure: no database, no clock, no translation. The caller hands in :class:`DayEvent` values
with everything already worded. Text is escaped and lines are folded by the writer of the
session invitations (:mod:`medcircle.consultations.ical`), so both speak the same dialect.

Each visit is one all-day event (``DTSTART;VALUE=DATE`` and the next day as the exclusive
``DTEND``) whose UID is stable for the roster visit, so a calendar that fetches the feed again
updates the event in place; ``SEQUENCE`` follows the version of the roster it belongs to.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from medcircle.consultations.ical import clean_text, escape_text, fold, utc

PRODID = "-//medcircle//Visiting-expert roster//EN"
UID_DOMAIN = "medcircle"
# how often a subscribed calendar should fetch the feed again
REFRESH = "PT6H"


@dataclass(frozen=True)
class DayEvent:
    """One visit day: what the calendar shows, already worded."""

    uid: str
    day: date
    sequence: int
    summary: str
    description: str
    location: str
    url: str = ""


def visit_uid(visit_id: int) -> str:
    """The stable UID of a roster visit ("roster-visit-42@medcircle")."""
    return f"roster-visit-{visit_id}@{UID_DOMAIN}"


def ical_date(day: date) -> str:
    """A DATE value ("20261207")."""
    return day.strftime("%Y%m%d")


def event_lines(event: DayEvent, stamp: datetime) -> list[str]:
    """The unfolded content lines of one all-day VEVENT."""
    out = [
        "BEGIN:VEVENT",
        f"UID:{escape_text(event.uid)}",
        f"SEQUENCE:{max(0, event.sequence)}",
        f"DTSTAMP:{utc(stamp)}",
        f"DTSTART;VALUE=DATE:{ical_date(event.day)}",
        f"DTEND;VALUE=DATE:{ical_date(event.day + timedelta(days=1))}",
        f"SUMMARY:{escape_text(event.summary)}",
        f"DESCRIPTION:{escape_text(event.description)}",
        f"LOCATION:{escape_text(event.location)}",
    ]
    if event.url:
        # URL is a URI value: not escaped, but it may hold no line break
        out.append(f"URL:{clean_text(event.url).replace(chr(10), '')}")
    out += ["STATUS:CONFIRMED", "TRANSP:OPAQUE", "END:VEVENT"]
    return out


def lines_of(events: Iterable[DayEvent], *, name: str, stamp: datetime) -> list[str]:
    """The unfolded content lines of a calendar named ``name`` holding ``events``."""
    out = [
        "BEGIN:VCALENDAR",
        f"PRODID:{PRODID}",
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape_text(name)}",
        f"NAME:{escape_text(name)}",
        f"REFRESH-INTERVAL;VALUE=DURATION:{REFRESH}",
        f"X-PUBLISHED-TTL:{REFRESH}",
    ]
    for event in sorted(events, key=lambda e: (e.day, e.uid)):
        out += event_lines(event, stamp)
    out.append("END:VCALENDAR")
    return out


def render(events: Iterable[DayEvent], *, name: str, stamp: datetime) -> str:
    """The whole ``text/calendar`` body, folded, CRLF line ends."""
    return "".join(fold(line) for line in lines_of(events, name=name, stamp=stamp))
