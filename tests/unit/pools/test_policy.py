"""The allocation policy as a pure function: urgency, then waiting time, then the order of
listing; the credit for a long wait; who is eligible (a patient not ready keeps its place,
sites, units declined); the rule reported; positions; the pool's parameters. And the sorted
``Queue`` against a brute-force reference (sort everything, take the first eligible) over
random sequences of listings, removals and decisions."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule

from medcircle.pools.policy import (
    URGENCY_RANK,
    Candidate,
    Decision,
    PassedOver,
    PolicySettings,
    Position,
    Queue,
    Rule,
    Slot,
    Urgency,
    effective_rank,
    order_key,
    policy_from,
    policy_problems,
    positions,
)

TODAY = date(2025, 6, 1)
NO_AGING = PolicySettings(aging_days=0)
SITES = frozenset({1, 2, 3, 4})
SLOT = Slot(unit_id=100, institution_id=1, room_class="100")


def cand(
    entry_id: int,
    urgency: Urgency | str = Urgency.ROUTINE,
    days: int = 10,
    *,
    room_class: str = "100",
    sites: frozenset[int] = SITES,
    ready: bool = True,
    declined: frozenset[int] = frozenset(),
) -> Candidate:
    return Candidate(
        entry_id=entry_id,
        urgency=Urgency(urgency),
        listed_on=TODAY - timedelta(days=days),
        room_class=room_class,
        sites=sites,
        ready=ready,
        listing_institution_id=1,
        declined_units=declined,
    )


def decide(
    cands: list[Candidate], slot: Slot = SLOT, s: PolicySettings = NO_AGING, top: int = 5
) -> Decision:
    return Queue(cands, TODAY, s).decide(slot, top=top)


def chosen(d: Decision) -> int | None:
    return d.chosen.entry_id if d.chosen else None


# --- order -----------------------------------------------------------------------------------


def test_urgency_comes_before_waiting_time() -> None:
    d = decide([cand(1, "routine", 300), cand(2, "urgent", 1), cand(3, "critical", 0)])
    assert chosen(d) == 3 and d.rule == Rule.URGENCY
    assert [r.candidate.entry_id for r in d.ranked] == [3, 2, 1]


def test_same_urgency_the_longer_wait_first() -> None:
    d = decide([cand(1, "urgent", 5), cand(2, "urgent", 40), cand(3, "urgent", 20)])
    assert chosen(d) == 2 and d.rule == Rule.WAITING_TIME
    assert [r.candidate.entry_id for r in d.ranked] == [2, 3, 1]
    assert [r.waited_days for r in d.ranked] == [40, 20, 5]


def test_same_urgency_and_day_the_first_listed_first() -> None:
    d = decide([cand(7, "routine", 12), cand(3, "routine", 12), cand(5, "routine", 12)])
    assert chosen(d) == 3 and d.rule == Rule.LISTING_ORDER
    assert [r.candidate.entry_id for r in d.ranked] == [3, 5, 7]


def test_the_only_eligible_patient_and_nobody() -> None:
    only = decide([cand(1), cand(2, ready=False)])
    assert chosen(only) == 1 and only.rule == Rule.ONLY_CANDIDATE
    nobody = decide([cand(1, ready=False)])
    assert nobody.chosen is None and nobody.rule == Rule.NO_CANDIDATE
    assert nobody.ranked == () and nobody.passed_over == {PassedOver.NOT_READY: 1}
    empty = decide([])
    assert empty.chosen is None and empty.passed_over == {}


def test_top_limits_the_candidates_kept() -> None:
    d = decide([cand(i, days=100 - i) for i in range(1, 21)], top=3)
    assert [r.candidate.entry_id for r in d.ranked] == [1, 2, 3]


def test_ranked_as_json_carries_what_the_decision_shows() -> None:
    d = decide([cand(4, "urgent", 30), cand(5)], s=PolicySettings(aging_days=90))
    assert d.ranked[0].as_json() == {
        "entry_id": 4,
        "urgency": "urgent",
        "effective_rank": 1,
        "listed_on": (TODAY - timedelta(days=30)).isoformat(),
        "waited_days": 30,
        "listing_institution_id": 1,
    }


# --- the credit for waiting --------------------------------------------------------------------


def test_aging_gains_one_category_per_aging_days() -> None:
    s = PolicySettings(aging_days=90)
    assert effective_rank(cand(1, "routine", 89), TODAY, s) == 2
    assert effective_rank(cand(1, "routine", 90), TODAY, s) == 1
    assert effective_rank(cand(1, "routine", 180), TODAY, s) == 0
    assert effective_rank(cand(1, "routine", 1000), TODAY, s) == 0  # never above critical
    assert effective_rank(cand(1, "urgent", 90), TODAY, s) == 0
    # listed in the future (a clock moved back): no negative wait
    assert effective_rank(cand(1, "routine", -5), TODAY, s) == 2
    assert effective_rank(cand(1, "routine", 10_000), TODAY, NO_AGING) == 2


def test_a_long_wait_catches_up_with_a_higher_urgency_by_the_waiting_credit() -> None:
    s = PolicySettings(aging_days=90)
    # routine for 200 days ranks as critical-equal with an urgent patient of 100 days (both 0)
    d = decide([cand(1, "urgent", 100), cand(2, "routine", 200)], s=s)
    assert chosen(d) == 2 and d.rule == Rule.WAITING_TIME
    # routine for 100 days (rank 1) before a fresh routine (rank 2): the credit decided
    d = decide([cand(1, "routine", 5), cand(2, "routine", 100)], s=s)
    assert chosen(d) == 2 and d.rule == Rule.WAITING_CREDIT
    # an urgent patient still before a routine one with less credit: urgency decided
    d = decide([cand(1, "routine", 80), cand(2, "urgent", 5)], s=s)
    assert chosen(d) == 2 and d.rule == Rule.URGENCY
    # the same credit for both: the higher urgency of equal effective rank does not count
    d = decide([cand(1, "routine", 100), cand(2, "urgent", 5)], s=s)
    assert chosen(d) == 1 and d.rule == Rule.WAITING_TIME


def test_without_aging_urgency_is_never_caught_up() -> None:
    d = decide([cand(1, "routine", 700), cand(2, "urgent", 0)])
    assert chosen(d) == 2 and d.rule == Rule.URGENCY


def test_order_key_is_rank_day_then_entry() -> None:
    c = cand(9, "urgent", 3)
    assert order_key(c, TODAY, NO_AGING) == (1, TODAY - timedelta(days=3), 9)


# --- eligibility --------------------------------------------------------------------------------


def test_a_patient_not_ready_is_passed_over_and_keeps_its_place() -> None:
    q = Queue([cand(1, "critical", ready=False), cand(2, "routine", 50)], TODAY, NO_AGING)
    d = q.decide(SLOT)
    assert chosen(d) == 2 and d.passed_over == {PassedOver.NOT_READY: 1}
    # ready now: first again, by its urgency
    q.add(cand(1, "critical"))
    assert chosen(q.decide(SLOT)) == 1


def test_sites_the_team_does_not_accept_are_passed_over() -> None:
    beijing_only = frozenset({1, 2})
    cands = [cand(1, "critical", sites=beijing_only), cand(2, "routine")]
    at_baoding = Slot(100, 3, "100")
    d = decide(cands, slot=at_baoding)
    assert chosen(d) == 2 and d.passed_over == {PassedOver.SITE: 1}
    assert chosen(decide(cands, slot=Slot(100, 1, "100"))) == 1


def test_a_unit_declined_is_not_offered_again_but_another_is() -> None:
    cands = [cand(1, "critical", declined=frozenset({100})), cand(2)]
    d = decide(cands)
    assert chosen(d) == 2 and d.passed_over == {PassedOver.DECLINED: 1}
    assert chosen(decide(cands, slot=Slot(101, 1, "100"))) == 1


def test_only_the_slots_room_class_competes() -> None:
    cands = [cand(1, "critical", room_class="1000"), cand(2, "routine")]
    d = decide(cands)
    assert chosen(d) == 2 and d.rule == Rule.ONLY_CANDIDATE and d.passed_over == {}
    assert chosen(decide(cands, slot=Slot(5, 1, "1000"))) == 1
    assert decide(cands, slot=Slot(5, 1, "picu")).rule == Rule.NO_CANDIDATE


def test_passed_over_counts_only_those_ahead_of_the_chosen() -> None:
    cands = [
        cand(1, "critical", ready=False),
        cand(2, "critical", sites=frozenset({9})),
        cand(3, "urgent", declined=frozenset({100})),
        cand(4, "urgent", ready=False),
        cand(5, "routine", 30),
        cand(6, "routine", 10, ready=False),  # behind the chosen: not counted
        cand(7, "routine", 5),
    ]
    d = decide(cands)
    assert chosen(d) == 5
    assert d.passed_over == {
        PassedOver.NOT_READY: 2,
        PassedOver.SITE: 1,
        PassedOver.DECLINED: 1,
    }
    # the next ones are eligible ones only
    assert [r.candidate.entry_id for r in d.ranked] == [5, 7]
    assert d.rule == Rule.WAITING_TIME


# --- the queue kept up to date -----------------------------------------------------------------


def test_remove_and_add_keep_the_order() -> None:
    q = Queue([cand(i, days=i) for i in range(1, 6)], TODAY, NO_AGING)
    assert len(q) == 5 and 3 in q
    assert [c.entry_id for c in q.line("100")] == [5, 4, 3, 2, 1]
    q.remove(5)
    q.remove(5)  # twice: nothing more
    q.remove(99)  # unknown: nothing
    assert chosen(q.decide(SLOT)) == 4 and len(q) == 4 and 5 not in q
    q.add(cand(5, "urgent", 0))  # back, more urgent
    q.add(cand(3, room_class="1000"))  # moved to another class
    assert [c.entry_id for c in q.line("100")] == [5, 4, 2, 1]
    assert [c.entry_id for c in q.line("1000")] == [3]
    assert q.line("picu") == [] and len(q) == 5


# --- positions ----------------------------------------------------------------------------------


def test_positions_count_ready_places_and_competitors_for_the_same_hospitals() -> None:
    q = Queue(
        [
            cand(1, "critical", sites=frozenset({1})),
            cand(2, "urgent", sites=frozenset({2})),
            cand(3, "urgent", 5, sites=frozenset({1, 2}), ready=False),
            cand(4, "routine", sites=frozenset({3})),
            cand(5, "routine", 5, sites=frozenset({1, 3})),
        ],
        TODAY,
        NO_AGING,
    )
    assert positions(q, "100") == [
        Position(1, 1, 0, True),
        Position(2, 2, 0, True),
        # not ready: where it would stand, and those ahead that compete for its hospitals
        Position(3, 3, 2, False),
        Position(4, 3, 0, True),
        Position(5, 4, 2, True),
    ]
    assert positions(q, "1000") == []


# --- the pool's parameters -----------------------------------------------------------------------


def test_policy_problems_names_each_bad_parameter_with_its_range() -> None:
    assert policy_problems({}) == {}
    assert policy_problems(PolicySettings().as_json()) == {}
    assert policy_problems(
        {
            "offer_hours": 0,
            "aging_days": True,
            "turnaround_days": "2",
            "default_stay_days": 366,
            "unknown": -1,
        }
    ) == {
        "offer_hours": (1, 168),
        "aging_days": (0, 730),
        "turnaround_days": (0, 30),
        "default_stay_days": (1, 365),
    }
    assert policy_problems({"offer_hours": 168, "aging_days": 0}) == {}
    assert policy_problems({"offer_hours": 2.5}) == {"offer_hours": (1, 168)}


def test_policy_from_keeps_good_values_and_defaults_the_rest() -> None:
    assert policy_from(None) == PolicySettings()
    assert policy_from({}) == PolicySettings()
    assert policy_from({"offer_hours": 48, "aging_days": -3, "turnaround_days": None}) == (
        PolicySettings(offer_hours=48)
    )
    full = {"offer_hours": 12, "aging_days": 0, "turnaround_days": 5, "default_stay_days": 40}
    assert policy_from(full).as_json() == full


# --- the queue against a brute-force reference ------------------------------------------------


def reference(
    cands: list[Candidate], slot: Slot, today: date, s: PolicySettings, top: int
) -> tuple[int | None, list[int], dict[PassedOver, int], Rule]:
    """Sort every entry of the class, then scan: the chosen, the next eligible, who was
    passed over ahead of the chosen, and the rule between the first two."""

    def key(c: Candidate) -> tuple[int, date, int]:
        rank = URGENCY_RANK[c.urgency]
        if s.aging_days:
            rank -= max(0, (today - c.listed_on).days) // s.aging_days
        return (max(rank, 0), c.listed_on, c.entry_id)

    line = sorted((c for c in cands if c.room_class == slot.room_class), key=key)
    eligible = [
        c
        for c in line
        if c.ready and slot.institution_id in c.sites and slot.unit_id not in c.declined_units
    ]
    passed: dict[PassedOver, int] = {}
    ahead = line[: line.index(eligible[0])] if eligible else line
    for c in ahead:
        reason = (
            PassedOver.NOT_READY
            if not c.ready
            else PassedOver.SITE
            if slot.institution_id not in c.sites
            else PassedOver.DECLINED
        )
        passed[reason] = passed.get(reason, 0) + 1
    if not eligible:
        return None, [], passed, Rule.NO_CANDIDATE
    if len(eligible) == 1 or top == 1:
        rule = Rule.ONLY_CANDIDATE
    else:
        a, b = eligible[0], eligible[1]
        if key(a)[0] != key(b)[0]:
            raw = URGENCY_RANK[a.urgency] < URGENCY_RANK[b.urgency]
            rule = Rule.URGENCY if raw else Rule.WAITING_CREDIT
        elif a.listed_on != b.listed_on:
            rule = Rule.WAITING_TIME
        else:
            rule = Rule.LISTING_ORDER
    return eligible[0].entry_id, [c.entry_id for c in eligible[:top]], passed, rule


candidates = st.builds(
    Candidate,
    entry_id=st.integers(1, 60),
    urgency=st.sampled_from(list(Urgency)),
    listed_on=st.dates(TODAY - timedelta(days=500), TODAY + timedelta(days=3)),
    room_class=st.sampled_from(["100", "1000"]),
    sites=st.frozensets(st.integers(1, 4), min_size=1),
    ready=st.booleans(),
    listing_institution_id=st.integers(1, 4),
    declined_units=st.frozensets(st.integers(1, 5), max_size=2),
)
slots = st.builds(
    Slot,
    unit_id=st.integers(1, 5),
    institution_id=st.integers(1, 4),
    room_class=st.sampled_from(["100", "1000"]),
)
policies = st.builds(PolicySettings, aging_days=st.sampled_from([0, 1, 30, 90, 365]))


def _agree(
    queue: Queue, model: dict[int, Candidate], slot: Slot, s: PolicySettings, top: int
) -> None:
    d = queue.decide(slot, top=top)
    want = reference(list(model.values()), slot, TODAY, s, top)
    got = (chosen(d), [r.candidate.entry_id for r in d.ranked], dict(d.passed_over), d.rule)
    assert got == want


@given(st.lists(candidates, max_size=40), slots, policies, st.integers(1, 6))
@settings(max_examples=300)
def test_a_decision_is_the_brute_force_one(
    cands: list[Candidate], slot: Slot, s: PolicySettings, top: int
) -> None:
    model = {c.entry_id: c for c in cands}  # an entry once (the last listing wins)
    queue = Queue(model.values(), TODAY, s)
    _agree(queue, model, slot, s, top)


class QueueMachine(RuleBasedStateMachine):
    """Listings, removals, re-listings and decisions (the chosen taken out, as the service
    does) against a dictionary of the waiting entries judged by the brute-force reference."""

    entries = Bundle("entries")

    def __init__(self) -> None:
        super().__init__()
        self.settings = PolicySettings(aging_days=90)
        self.model: dict[int, Candidate] = {}
        self.queue = Queue([], TODAY, self.settings)

    @rule(target=entries, c=candidates)
    def add(self, c: Candidate) -> int:
        self.queue.add(c)
        self.model[c.entry_id] = c
        return c.entry_id

    @rule(entry_id=consumes(entries))
    def remove(self, entry_id: int) -> None:
        self.queue.remove(entry_id)
        self.model.pop(entry_id, None)

    @rule(entry_id=entries, ready=st.booleans(), urgency=st.sampled_from(list(Urgency)))
    def change(self, entry_id: int, ready: bool, urgency: Urgency) -> None:
        old = self.model.get(entry_id)
        if old is None:
            return
        new = Candidate(
            old.entry_id,
            urgency,
            old.listed_on,
            old.room_class,
            old.sites,
            ready,
            old.listing_institution_id,
            old.declined_units,
        )
        self.queue.add(new)
        self.model[entry_id] = new

    @rule(slot=slots, top=st.integers(1, 6), take=st.booleans())
    def decide(self, slot: Slot, top: int, take: bool) -> None:
        _agree(self.queue, self.model, slot, self.settings, top)
        d = self.queue.decide(slot, top=top)
        if take and d.chosen is not None:
            self.queue.remove(d.chosen.entry_id)
            del self.model[d.chosen.entry_id]

    @invariant()
    def same_entries(self) -> None:
        assert len(self.queue) == len(self.model)
        for room_class in ("100", "1000"):
            line = self.queue.line(room_class)
            assert sorted(c.entry_id for c in line) == sorted(
                e for e, c in self.model.items() if c.room_class == room_class
            )
            keys = [order_key(c, TODAY, self.settings) for c in line]
            assert keys == sorted(keys)


QueueMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40)
test_the_queue_agrees_with_the_reference_over_any_sequence = QueueMachine.TestCase


@pytest.mark.parametrize("urgency", list(Urgency))
def test_every_urgency_has_a_rank(urgency: Urgency) -> None:
    assert urgency in URGENCY_RANK
