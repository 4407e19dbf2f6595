"""Who gets a new case: ``domain.route`` over generated rotas, leave, loads and skills,
against a plain model of the rule (on call, not on leave, not excluded; room before full;
primary before backup; skill fit; load; user id)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from medcircle.consultations.domain import (
    Decision,
    Expert,
    Leave,
    RotaIndex,
    RouteReason,
    Shift,
    ShiftRole,
    route,
    skill_score,
)

T0 = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
AT = T0 + timedelta(hours=12)
USERS = st.integers(min_value=1, max_value=8)
HOURS = st.integers(min_value=0, max_value=24)
PREFIXES = st.sampled_from(["J", "J1", "J18", "C91", "C9", "Q2", "P07"])
CODES = st.one_of(st.none(), st.sampled_from(["J18.9", "J45.0", "C91.0", "Q21.3", "P07.3", "K50"]))


@st.composite
def shifts(draw: st.DrawFn) -> Shift:
    start = draw(HOURS)
    length = draw(st.integers(min_value=1, max_value=24))
    role = draw(st.sampled_from(list(ShiftRole)))
    return Shift(
        draw(USERS),
        T0 + timedelta(hours=start),
        T0 + timedelta(hours=start + length),
        role,
    )


@st.composite
def leaves(draw: st.DrawFn) -> Leave:
    start = draw(HOURS)
    return Leave(
        draw(USERS),
        T0 + timedelta(hours=start),
        T0 + timedelta(hours=start + draw(st.integers(min_value=1, max_value=12))),
    )


@st.composite
def experts(draw: st.DrawFn) -> dict[int, Expert]:
    out = {}
    for uid in draw(st.sets(USERS)):
        out[uid] = Expert(
            uid,
            tuple(draw(st.lists(PREFIXES, max_size=2, unique=True))),
            draw(st.integers(min_value=1, max_value=5)),
        )
    return out


LOADS = st.dictionaries(USERS, st.integers(min_value=0, max_value=6))
EXCLUDE = st.frozensets(USERS, max_size=3)


def model(
    rota: list[Shift],
    gone: list[Leave],
    pool: dict[int, Expert],
    load: dict[int, int],
    at: datetime,
    code: str | None,
    exclude: frozenset[int],
) -> Decision:
    """The rule, written plainly."""
    on = [
        s
        for s in rota
        if s.starts_at <= at < s.ends_at
        and not any(lv.user_id == s.user_id and lv.starts_at <= at < lv.ends_at for lv in gone)
    ]
    if not on:
        return Decision(None, RouteReason.NOBODY_ON_CALL)
    candidates = [s for s in on if s.user_id not in exclude]
    if not candidates:
        return Decision(None, RouteReason.ALL_EXCLUDED)

    def key(s: Shift) -> tuple[int, int, int, int, int]:
        e = pool.get(s.user_id) or Expert(s.user_id)
        n = load.get(s.user_id, 0)
        return (
            1 if n >= e.max_open else 0,
            0 if s.role == ShiftRole.PRIMARY else 1,
            -skill_score(e, code),
            n,
            s.user_id,
        )

    best = min(candidates, key=key)
    if best.role == ShiftRole.BACKUP:
        return Decision(best.user_id, RouteReason.BACKUP)
    full_primary = any(s.role == ShiftRole.PRIMARY and key(s)[0] == 1 for s in candidates)
    if full_primary and key(best)[0] == 0:
        return Decision(best.user_id, RouteReason.ON_CALL_LOADED)
    return Decision(best.user_id, RouteReason.ON_CALL)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(shifts(), max_size=10),
    st.lists(leaves(), max_size=4),
    experts(),
    LOADS,
    st.integers(min_value=0, max_value=47),
    CODES,
    EXCLUDE,
)
def test_route_follows_the_rule(
    rota: list[Shift],
    gone: list[Leave],
    pool: dict[int, Expert],
    load: dict[int, int],
    half_hours: int,
    code: str | None,
    exclude: frozenset[int],
) -> None:
    at = T0 + timedelta(minutes=30 * half_hours)
    got = route(RotaIndex(list(rota), list(gone)), pool, load, at, code, exclude)
    assert got == model(rota, gone, pool, load, at, code, exclude)
    if got.user_id is not None:
        # only someone on call then, not on leave, not excluded
        assert got.user_id not in exclude
        assert any(s.user_id == got.user_id and s.covers(at) for s in rota)
        assert not any(lv.user_id == got.user_id and lv.starts_at <= at < lv.ends_at for lv in gone)
        # a backup only when no primary on call has room for it
        if got.reason == RouteReason.BACKUP:
            for s in rota:
                on = s.covers(at) and s.role == ShiftRole.PRIMARY and s.user_id not in exclude
                away = any(
                    lv.user_id == s.user_id and lv.starts_at <= at < lv.ends_at for lv in gone
                )
                if on and not away:
                    e = pool.get(s.user_id) or Expert(s.user_id)
                    assert load.get(s.user_id, 0) >= e.max_open
    # deterministic: the order the shifts come in does not matter
    shuffled = list(rota)
    random.Random(half_hours).shuffle(shuffled)
    assert route(RotaIndex(shuffled, list(gone)), pool, load, at, code, exclude) == got


def _index(*rows: tuple[int, ShiftRole]) -> RotaIndex:
    return RotaIndex([Shift(uid, T0, T0 + timedelta(days=1), role) for uid, role in rows])


def test_nobody_on_call_and_all_excluded() -> None:
    empty = RotaIndex([Shift(1, T0, T0 + timedelta(hours=8))])
    assert route(empty, {}, {}, AT) == Decision(None, RouteReason.NOBODY_ON_CALL)
    on_leave = RotaIndex([Shift(1, T0, T0 + timedelta(days=1))], [Leave(1, T0, AT + timedelta(1))])
    assert route(on_leave, {}, {}, AT) == Decision(None, RouteReason.NOBODY_ON_CALL)
    rota = _index((1, ShiftRole.PRIMARY), (2, ShiftRole.BACKUP))
    assert route(rota, {}, {}, AT, exclude=frozenset({1, 2})) == Decision(
        None, RouteReason.ALL_EXCLUDED
    )
    assert route(rota, {}, {}, AT, exclude=frozenset({1})) == Decision(2, RouteReason.BACKUP)


def test_primary_before_backup_whatever_the_load_or_skills() -> None:
    rota = _index((5, ShiftRole.BACKUP), (9, ShiftRole.PRIMARY))
    pool = {5: Expert(5, ("J18",)), 9: Expert(9)}
    assert route(rota, pool, {9: 10, 5: 0}, AT, "J18.9") == Decision(9, RouteReason.ON_CALL)


def test_a_full_primary_gives_way_to_one_with_room_then_to_a_backup_with_room() -> None:
    rota = _index((1, ShiftRole.PRIMARY), (2, ShiftRole.PRIMARY), (3, ShiftRole.BACKUP))
    pool = {1: Expert(1, ("J18",), max_open=2), 2: Expert(2, max_open=2)}
    assert route(rota, pool, {1: 2, 2: 1}, AT, "J18.9") == Decision(2, RouteReason.ON_CALL_LOADED)
    # both primaries full: the backup with room takes it
    assert route(rota, pool, {1: 2, 2: 2}, AT, "J18.9") == Decision(3, RouteReason.BACKUP)
    # everyone full: a primary still gets it (routing never leaves it with nobody)
    pool[3] = Expert(3, max_open=1)
    got = route(rota, pool, {1: 2, 2: 2, 3: 1}, AT, "J18.9")
    assert got == Decision(1, RouteReason.ON_CALL)


def test_skills_then_load_then_user_id() -> None:
    rota = _index((1, ShiftRole.PRIMARY), (2, ShiftRole.PRIMARY), (3, ShiftRole.PRIMARY))
    pool = {1: Expert(1, ("J",)), 2: Expert(2, ("J18",)), 3: Expert(3)}
    # the longest matching prefix wins
    assert route(rota, pool, {}, AT, "j18.9").user_id == 2
    # no fit: the lighter load, then the lower id
    assert route(rota, pool, {1: 3, 2: 2, 3: 1}, AT, "C91.0").user_id == 3
    assert route(rota, pool, {}, AT, None).user_id == 1
    assert skill_score(pool[2], "J18.9") == 3 and skill_score(pool[3], "J18.9") == 0


def test_the_index_finds_long_and_short_shifts_around_an_instant() -> None:
    rota = RotaIndex(
        [
            Shift(1, T0 - timedelta(days=6), T0 + timedelta(days=1)),
            Shift(2, T0 + timedelta(hours=11), T0 + timedelta(hours=13)),
            Shift(3, T0 + timedelta(hours=12), T0 + timedelta(hours=14), ShiftRole.BACKUP),
        ]
    )
    assert [s.user_id for s in rota.at(AT)] == [1, 2, 3]
    assert [s.user_id for s in rota.at(T0 + timedelta(hours=13))] == [1, 3]
