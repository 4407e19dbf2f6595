"""The on-call rota as data, over generated rotas and leave: every instant of a window is
either covered by a primary on call or inside exactly one gap / backup-only warning of the
right kind; the bisecting index answers as the plain scan; leave takes its expert off call;
leave cut out of shifts (``_effective``) leaves exactly the instants on call."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from medcircle.consultations.domain import (
    Leave,
    RotaIndex,
    Shift,
    ShiftRole,
    WarningKind,
    _effective,
    on_call,
    rota_warnings,
)

T0 = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
STEP = timedelta(minutes=30)
USERS = st.integers(min_value=1, max_value=4)


def _at(n: int) -> datetime:
    return T0 + n * STEP


@st.composite
def shifts(draw: st.DrawFn) -> Shift:
    start = draw(st.integers(0, 200))
    length = draw(st.integers(1, 48))
    return Shift(
        draw(USERS), _at(start), _at(start + length), draw(st.sampled_from(list(ShiftRole)))
    )


@st.composite
def leaves(draw: st.DrawFn) -> Leave:
    start = draw(st.integers(0, 200))
    return Leave(draw(USERS), _at(start), _at(start + draw(st.integers(1, 60))))


@st.composite
def rotas(draw: st.DrawFn) -> tuple[list[Shift], list[Leave], datetime, datetime]:
    s = draw(st.lists(shifts(), max_size=12))
    lv = draw(st.lists(leaves(), max_size=4))
    begin = draw(st.integers(0, 150))
    end = begin + draw(st.integers(1, 150))
    return s, lv, _at(begin), _at(end)


def _instants(start: datetime, end: datetime) -> list[datetime]:
    """Every half-hour of the window and a moment just inside each (all boundaries fall on the
    grid, so these see every stretch)."""
    out = []
    t = start
    while t < end:
        out += [t, t + timedelta(minutes=7)]
        t += STEP
    return out


@settings(max_examples=150, deadline=None)
@given(rotas())
def test_every_instant_is_covered_by_a_primary_or_inside_one_warning(
    rota: tuple[list[Shift], list[Leave], datetime, datetime],
) -> None:
    shifts_, leaves_, start, end = rota
    warnings = rota_warnings(shifts_, leaves_, start, end)
    stretches = [w for w in warnings if w.kind in (WarningKind.GAP, WarningKind.NO_PRIMARY)]
    for t in _instants(start, end):
        now = on_call(shifts_, leaves_, t)
        inside = [w for w in stretches if w.starts_at <= t < w.ends_at]
        if any(s.role == ShiftRole.PRIMARY for s in now):
            assert inside == [], (t, inside)
        else:
            assert len(inside) == 1, (t, inside)
            expected = WarningKind.GAP if not now else WarningKind.NO_PRIMARY
            assert inside[0].kind == expected
    # stretches stay in the window, are not empty, and adjacent ones of one kind are merged
    for a, b in itertools.pairwise(stretches):
        assert not (a.kind == b.kind and a.ends_at == b.starts_at)
    for w in warnings:
        assert start <= w.starts_at <= w.ends_at <= end
    assert [w.starts_at for w in warnings] == sorted(w.starts_at for w in warnings)


@settings(max_examples=150, deadline=None)
@given(rotas())
def test_leave_and_handover_warnings_say_what_happens(
    rota: tuple[list[Shift], list[Leave], datetime, datetime],
) -> None:
    shifts_, leaves_, start, end = rota
    for w in rota_warnings(shifts_, leaves_, start, end):
        if w.kind == WarningKind.LEAVE:
            assert w.starts_at < w.ends_at
            mid = w.starts_at + (w.ends_at - w.starts_at) / 2
            assert any(s.user_id == w.user_id and s.covers(mid) for s in shifts_), (
                "a leave warning lies in a shift of its expert"
            )
            assert any(
                lv.user_id == w.user_id and lv.starts_at <= mid < lv.ends_at for lv in leaves_
            ), "and in their leave"
            assert all(s.user_id != w.user_id for s in on_call(shifts_, leaves_, mid))
        elif w.kind == WarningKind.HANDOVER:
            assert w.starts_at == w.ends_at and start < w.starts_at < end
            assert w.user_id != w.from_user_id
            taking = [s for s in on_call(shifts_, leaves_, w.starts_at) if s.role == "primary"]
            assert w.user_id in {s.user_id for s in taking}


@settings(max_examples=150, deadline=None)
@given(rotas(), st.integers(-20, 300))
def test_the_index_answers_as_the_scan(
    rota: tuple[list[Shift], list[Leave], datetime, datetime], n: int
) -> None:
    shifts_, leaves_, _start, _end = rota
    index = RotaIndex(list(shifts_), list(leaves_))
    for t in (_at(n), _at(n) + timedelta(minutes=1), _at(n) - timedelta(microseconds=1)):
        assert index.at(t) == on_call(shifts_, leaves_, t)


@settings(max_examples=150, deadline=None)
@given(rotas(), st.integers(0, 300))
def test_leave_takes_the_expert_off_call(
    rota: tuple[list[Shift], list[Leave], datetime, datetime], n: int
) -> None:
    shifts_, leaves_, _start, _end = rota
    t = _at(n) + timedelta(minutes=7)
    away = {lv.user_id for lv in leaves_ if lv.starts_at <= t < lv.ends_at}
    found = on_call(shifts_, leaves_, t)
    assert not away & {s.user_id for s in found}
    # everyone else covering t stays on call, primaries first
    assert {s for s in found} == {s for s in shifts_ if s.covers(t) and s.user_id not in away}
    roles = [s.role for s in found]
    assert roles == sorted(roles, key=lambda r: r != ShiftRole.PRIMARY)


@settings(max_examples=150, deadline=None)
@given(rotas(), st.integers(0, 300))
def test_effective_pieces_are_the_shifts_minus_leave(
    rota: tuple[list[Shift], list[Leave], datetime, datetime], n: int
) -> None:
    shifts_, leaves_, _start, _end = rota
    pieces = _effective(shifts_, leaves_)
    for p in pieces:
        assert p.starts_at < p.ends_at
        assert any(
            s.user_id == p.user_id
            and s.role == p.role
            and s.starts_at <= p.starts_at
            and p.ends_at <= s.ends_at
            for s in shifts_
        )
    t = _at(n) + timedelta(minutes=7)
    live = sorted((p.user_id, p.role) for p in pieces if p.covers(t))
    assert live == sorted((s.user_id, s.role) for s in on_call(shifts_, leaves_, t))


def test_a_night_without_primary_reads_as_one_stretch() -> None:
    day = Shift(1, _at(16), _at(40))  # 08:00 to 20:00
    night = Shift(2, _at(40), _at(64), ShiftRole.BACKUP)  # 20:00 to 08:00
    warnings = rota_warnings([day, night], [], _at(16), _at(64))
    assert [(w.kind, w.starts_at, w.ends_at) for w in warnings] == [
        (WarningKind.NO_PRIMARY, _at(40), _at(64))
    ]
    # leave in the middle of the day shift: a gap and the leave itself
    warnings = rota_warnings([day, night], [Leave(1, _at(20), _at(24))], _at(16), _at(64))
    assert [(w.kind, w.starts_at, w.ends_at) for w in warnings] == [
        (WarningKind.LEAVE, _at(20), _at(24)),
        (WarningKind.GAP, _at(20), _at(24)),
        (WarningKind.NO_PRIMARY, _at(40), _at(64)),
    ]


def test_a_handover_names_both_experts() -> None:
    a = Shift(1, _at(0), _at(16))
    b = Shift(2, _at(16), _at(32))
    [handover] = rota_warnings([a, b], [], _at(0), _at(32))
    assert (handover.kind, handover.starts_at, handover.user_id, handover.from_user_id) == (
        WarningKind.HANDOVER,
        _at(16),
        2,
        1,
    )
