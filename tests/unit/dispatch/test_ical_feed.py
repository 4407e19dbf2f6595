"""The roster calendar: all-day events with stable UIDs, escaped text, folded lines."""

from __future__ import annotations

from datetime import UTC, date, datetime

from hypothesis import given
from hypothesis import strategies as st

from medcircle.consultations.ical import CRLF, MAX_OCTETS, clean_text, unescape_text, unfold
from medcircle.dispatch import ical_feed
from medcircle.dispatch.ical_feed import DayEvent

STAMP = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def _event(**kw: object) -> DayEvent:
    values: dict[str, object] = {
        "uid": ical_feed.visit_uid(42),
        "day": date(2026, 12, 31),
        "sequence": 3,
        "summary": "Expert visit: 保定市儿童医院",
        "description": "Specialty: Paediatric cardiology\nKind: Visit",
        "location": "保定市儿童医院, 保定市竞秀区长城北大街 (1号)",
        "url": "https://medcircle.example/dispatch/me",
    }
    values.update(kw)
    return DayEvent(**values)  # type: ignore[arg-type]


def _props(text: str) -> list[tuple[str, str]]:
    out = []
    for line in unfold(text):
        name, _, value = line.partition(":")
        out.append((name, value))
    return out


def test_an_all_day_event_per_visit() -> None:
    text = ical_feed.render([_event()], name="medcircle: my visits", stamp=STAMP)
    assert text.startswith("BEGIN:VCALENDAR\r\n") and text.endswith("END:VCALENDAR\r\n")
    props = dict(_props(text))
    assert props["METHOD"] == "PUBLISH"
    assert props["X-WR-CALNAME"] == "medcircle: my visits"
    assert props["UID"] == "roster-visit-42@medcircle"
    assert props["SEQUENCE"] == "3"
    assert props["DTSTAMP"] == "20261130T020000Z"
    # an all-day event: a DATE, the end the next day (exclusive), across a year's end
    assert props["DTSTART;VALUE=DATE"] == "20261231"
    assert props["DTEND;VALUE=DATE"] == "20270101"
    assert unescape_text(props["SUMMARY"]) == "Expert visit: 保定市儿童医院"
    assert unescape_text(props["DESCRIPTION"]) == "Specialty: Paediatric cardiology\nKind: Visit"
    assert props["LOCATION"] == "保定市儿童医院\\, 保定市竞秀区长城北大街 (1号)"
    assert props["URL"] == "https://medcircle.example/dispatch/me"
    assert text.count("BEGIN:VEVENT") == 1


def test_events_in_day_order_and_an_empty_calendar() -> None:
    later = _event(uid=ical_feed.visit_uid(1), day=date(2027, 1, 5))
    sooner = _event(uid=ical_feed.visit_uid(2), day=date(2026, 12, 7))
    text = ical_feed.render([later, sooner], name="x", stamp=STAMP)
    uids = [v for k, v in _props(text) if k == "UID"]
    assert uids == ["roster-visit-2@medcircle", "roster-visit-1@medcircle"]
    empty = ical_feed.render([], name="x", stamp=STAMP)
    assert "BEGIN:VEVENT" not in empty and "END:VCALENDAR" in empty


def test_no_url_line_without_a_url_and_no_line_break_in_one() -> None:
    assert "URL:" not in ical_feed.render([_event(url="")], name="x", stamp=STAMP)
    text = ical_feed.render([_event(url="https://a.example/\r\nX-EVIL:1")], name="x", stamp=STAMP)
    assert "X-EVIL" not in [k for k, _ in _props(text)]


def test_a_negative_sequence_is_never_written() -> None:
    text = ical_feed.render([_event(sequence=-1)], name="x", stamp=STAMP)
    assert dict(_props(text))["SEQUENCE"] == "0"


def _octets_ok(text: str) -> bool:
    return all(len(line.encode("utf-8")) <= MAX_OCTETS for line in text.split(CRLF))


@given(
    summary=st.text(max_size=300),
    description=st.text(max_size=300),
    location=st.text(max_size=200),
)
def test_text_survives_escaping_and_folding(summary: str, description: str, location: str) -> None:
    event = _event(summary=summary, description=description, location=location)
    text = ical_feed.render([event], name="我的出诊 ; , \\", stamp=STAMP)
    assert _octets_ok(text)
    # every folded piece is whole UTF-8 (never a split character)
    text.encode("utf-8")
    props = _props(text)
    values = {k: v for k, v in props}
    assert unescape_text(values["SUMMARY"]) == clean_text(summary)
    assert unescape_text(values["DESCRIPTION"]) == clean_text(description)
    assert unescape_text(values["LOCATION"]) == clean_text(location)
    assert unescape_text(values["X-WR-CALNAME"]) == "我的出诊 ; , \\"
    # the text never starts a property of its own
    names = [k for k, _ in props]
    assert names.count("SUMMARY") == 1 and names.count("END") == 2


@given(st.integers(min_value=1, max_value=2**31 - 1))
def test_uids_are_stable_and_distinct(visit_id: int) -> None:
    assert ical_feed.visit_uid(visit_id) == ical_feed.visit_uid(visit_id)
    assert ical_feed.visit_uid(visit_id) != ical_feed.visit_uid(visit_id + 1)
