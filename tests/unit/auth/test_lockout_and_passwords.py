"""The lock-out rule and the password policy (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from medcircle.auth.domain import PASSWORD_MIN_LENGTH, LockoutPolicy, password_problems

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
attempts = st.integers(min_value=1, max_value=10)
window_minutes = st.integers(min_value=1, max_value=120)


@given(attempts, window_minutes, st.data())
def test_never_locked_below_the_limit_in_the_window(n: int, w: int, data: st.DataObject) -> None:
    policy = LockoutPolicy(attempts=n, window=timedelta(minutes=w))
    seconds = data.draw(st.lists(st.integers(0, w * 60 - 1), max_size=n - 1), label="seconds ago")
    # plus any number of failures older than the window, which do not count
    old = data.draw(st.lists(st.integers(w * 60, w * 600), max_size=20), label="old")
    failures = [NOW - timedelta(seconds=s) for s in [*seconds, *old]]
    assert policy.locked_until(failures, NOW) is None


@given(attempts, window_minutes, st.data())
def test_locked_at_the_limit_until_one_window_after(n: int, w: int, data: st.DataObject) -> None:
    policy = LockoutPolicy(attempts=n, window=timedelta(minutes=w))
    seconds = data.draw(
        st.lists(st.integers(0, w * 60 - 1), min_size=n, max_size=n + 5), label="seconds ago"
    )
    failures = [NOW - timedelta(seconds=s) for s in seconds]
    until = policy.locked_until(failures, NOW)
    assert until is not None
    assert NOW < until <= NOW + policy.window
    # the lock runs one window from the failure that reached the limit
    assert until == sorted(failures)[-n] + policy.window


@given(attempts, window_minutes, st.lists(st.integers(0, 3600), min_size=1, max_size=15))
def test_unlocked_after_the_window(n: int, w: int, seconds: list[int]) -> None:
    policy = LockoutPolicy(attempts=n, window=timedelta(minutes=w))
    failures = [NOW - timedelta(seconds=s) for s in seconds]
    later = max(failures) + policy.window
    assert policy.locked_until(failures, later) is None
    assert policy.locked_until(failures, later + timedelta(days=1)) is None


def test_default_policy_is_five_in_fifteen_minutes() -> None:
    policy = LockoutPolicy()
    four = [NOW - timedelta(minutes=m) for m in (1, 2, 3, 4)]
    assert policy.locked_until(four, NOW) is None
    five = [*four, NOW]
    assert policy.locked_until(five, NOW) == NOW - timedelta(minutes=4) + timedelta(minutes=15)


def test_good_password_has_no_problems() -> None:
    assert password_problems("Baoding-2026-wards", "wang") == []


def test_short_password() -> None:
    assert password_problems("Ab1-x", "wang") == ["Use at least 10 characters."]
    assert password_problems("a" * PASSWORD_MIN_LENGTH, "")[0] != "Use at least 10 characters."


def test_password_with_user_name_in_any_case() -> None:
    assert "Do not include the user name." in password_problems("xxWANG-2026-ok", "wang")


def test_monotonous_password() -> None:
    assert password_problems("aaaaabbbbbaaaa", "wang") == ["Use more varied characters."]


def test_every_problem_at_once() -> None:
    assert password_problems("aaa", "aa") == [
        "Use at least 10 characters.",
        "Do not include the user name.",
        "Use more varied characters.",
    ]


@given(st.text(min_size=PASSWORD_MIN_LENGTH, alphabet=st.characters(codec="utf-8")))
def test_problems_are_known_messages(password: str) -> None:
    known = {
        "Use at least 10 characters.",
        "Do not include the user name.",
        "Use more varied characters.",
    }
    assert set(password_problems(password, "wang")) <= known
