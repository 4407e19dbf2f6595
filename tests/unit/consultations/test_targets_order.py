"""The order check of response targets: emergency <= urgent <= routine, each break blamed on
a field the user set where there is one."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from medcircle.consultations.domain import Urgency
from medcircle.consultations.targets import MAX_MINUTES, MIN_MINUTES, ORDER, order_errors

minutes = st.integers(MIN_MINUTES, MAX_MINUTES)


@given(
    st.fixed_dictionaries({u: minutes for u in ORDER}),
    st.sets(st.sampled_from(list(ORDER))),
)
def test_errors_exactly_when_out_of_order(values: dict[Urgency, int], sent: set[Urgency]) -> None:
    problems = order_errors(values, sent)
    in_order = values[Urgency.EMERGENCY] <= values[Urgency.URGENT] <= values[Urgency.ROUTINE]
    assert (not problems) == in_order
    breaks = [(a, b) for a, b in pairwise(ORDER) if values[a] > values[b]]
    assert [p.field for p in problems] == [
        # the less urgent of the pair if the user set it, else the more urgent one
        (b if b in sent else a).value
        for a, b in breaks
    ]
    assert all(p.code == "targets_out_of_order" for p in problems)


def test_the_less_urgent_is_blamed_when_both_were_set() -> None:
    values = {Urgency.EMERGENCY: 60, Urgency.URGENT: 45, Urgency.ROUTINE: 1440}
    assert [p.field for p in order_errors(values, {Urgency.EMERGENCY, Urgency.URGENT})] == [
        "urgent"
    ]
    assert [p.field for p in order_errors(values, {Urgency.EMERGENCY})] == ["emergency"]
    assert order_errors({u: 240 for u in ORDER}, set(ORDER)) == []
