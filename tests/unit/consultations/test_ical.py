"""The iCalendar writer: text escaping and line folding round-trip (also for Chinese), every
line within 75 octets, and a calendar the icalendar package reads back as written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import icalendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from medcircle.consultations import ical

START = datetime(2026, 12, 3, 2, 30, tzinfo=UTC)

# text as people type it: any letters (CJK included), punctuation, line breaks
texts = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8", exclude_categories=["Cs"]),
        st.sampled_from(list("\\;,:\n\r\t\"' 会诊多学科值班")),
    ),
    max_size=300,
)


def _unescaped_value(stream: str, name: str) -> str:
    line = next(x for x in ical.unfold(stream) if x.startswith(name + ":"))
    text: str = ical.unescape_text(line[len(name) + 1 :])
    return text


def parse(text: str) -> Any:
    """The calendar read back by the icalendar package (loosely typed for the asserts)."""
    return icalendar.Calendar.from_ical(text)


def invitation(**overrides: object) -> ical.Invitation:
    values: dict[str, object] = {
        "uid": "abc-123@medcircle",
        "sequence": 0,
        "stamp": START - timedelta(days=1),
        "starts_at": START,
        "ends_at": START + timedelta(minutes=60),
        "summary": "会诊 C-2026-000001 · 小儿心脏科",
        "description": "Mode: MDT\nMeeting link: https://meet.example/r1\n\nNo patient identifiers",
        "location": "https://meet.example/r1",
        "url": "https://meet.example/r1",
        "organizer": ical.Person("王医生", "wang@example.org"),
        "attendees": [
            ical.Person("李, 医生; 儿科", "li@example.org"),
            ical.Person("张医生", None, "urn:medcircle:user:7"),
        ],
    }
    values.update(overrides)
    return ical.Invitation(**values)  # type: ignore[arg-type]


@given(texts)
def test_escape_then_unescape_gives_the_text_back(text: str) -> None:
    assert ical.unescape_text(ical.escape_text(text)) == ical.clean_text(text)


@given(texts)
def test_escaped_text_has_no_bare_separators(text: str) -> None:
    escaped = ical.escape_text(text)
    assert "\n" not in escaped and "\r" not in escaped
    # every ; and , is preceded by a backslash that is not itself escaped
    i = 0
    while i < len(escaped):
        if escaped[i] == "\\":
            assert escaped[i + 1] in "\\;,n"
            i += 2
            continue
        assert escaped[i] not in ";,"
        i += 1


@given(texts)
def test_fold_unfold_round_trip_within_75_octets(text: str) -> None:
    line = "DESCRIPTION:" + ical.escape_text(text)
    folded = ical.fold(line)
    assert folded.endswith("\r\n")
    physical = folded[:-2].split("\r\n")
    for i, part in enumerate(physical):
        assert len(part.encode("utf-8")) <= 75
        if i:
            assert part.startswith(" ")
    # each physical line is valid UTF-8 on its own: no character was split
    for part in physical:
        part.encode("utf-8").decode("utf-8")
    assert ical.unfold(folded) == [line]
    assert _unescaped_value(folded, "DESCRIPTION") == ical.clean_text(text)


def test_chinese_is_folded_between_characters() -> None:
    line = "SUMMARY:" + "多学科会诊" * 20
    folded = ical.fold(line)
    raw = folded.encode("utf-8")
    for part in raw.split(b"\r\n"):
        assert len(part) <= 75
        part.decode("utf-8")
    assert ical.unfold(folded) == [line]


def test_the_calendar_parses_with_every_field() -> None:
    text = ical.render(invitation())
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    cal = parse(text)
    assert cal["VERSION"] == "2.0"
    assert cal["PRODID"] == ical.PRODID
    assert cal["METHOD"] == "REQUEST"
    events = list(cal.walk("VEVENT"))
    assert len(events) == 1
    ev: Any = events[0]
    assert str(ev["UID"]) == "abc-123@medcircle"
    assert int(ev["SEQUENCE"]) == 0
    assert ev.decoded("DTSTART") == START
    assert ev.decoded("DTEND") == START + timedelta(minutes=60)
    assert str(ev["SUMMARY"]) == "会诊 C-2026-000001 · 小儿心脏科"
    assert "No patient identifiers" in str(ev["DESCRIPTION"])
    assert str(ev["DESCRIPTION"]).count("\n") == 3
    assert str(ev["LOCATION"]) == "https://meet.example/r1"
    assert str(ev["STATUS"]) == "CONFIRMED"
    assert str(ev["ORGANIZER"]) == "mailto:wang@example.org"
    assert ev["ORGANIZER"].params["CN"] == "王医生"
    attendees = ev["ATTENDEE"]
    assert [str(a) for a in attendees] == ["mailto:li@example.org", "urn:medcircle:user:7"]
    assert attendees[0].params["CN"] == "李, 医生; 儿科"
    assert attendees[1].params["CN"] == "张医生"


def test_instants_are_written_in_utc() -> None:
    cst = timezone(timedelta(hours=8))
    text = ical.render(invitation(starts_at=datetime(2026, 12, 3, 10, 30, tzinfo=cst)))
    assert "DTSTART:20261203T023000Z" in ical.unfold(text)
    with pytest.raises(ValueError):
        ical.utc(datetime(2026, 12, 3, 10, 30))


def test_a_cancelled_invitation() -> None:
    cal = parse(ical.render(invitation(cancelled=True, sequence=2)))
    assert cal["METHOD"] == "CANCEL"
    ev: Any = next(iter(cal.walk("VEVENT")))
    assert str(ev["STATUS"]) == "CANCELLED"
    assert int(ev["SEQUENCE"]) == 2


@given(st.text(min_size=1, max_size=80), texts)
def test_any_names_and_summaries_parse(name: str, summary: str) -> None:
    inv = invitation(
        summary=summary, organizer=ical.Person(name, None, "urn:medcircle:user:1"), attendees=[]
    )
    cal = parse(ical.render(inv))
    ev: Any = next(iter(cal.walk("VEVENT")))
    assert str(ev.get("SUMMARY", "")) == ical.clean_text(summary)
