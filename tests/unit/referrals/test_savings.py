"""The savings estimate: the formula with hand-computed numbers, and the distance."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medcircle.config import Settings
from medcircle.referrals.domain import CareType
from medcircle.referrals.savings import estimate, haversine_km, kept_local, nights

SETTINGS = Settings(
    saving_yuan_per_km=0.8,
    saving_travellers=2,
    saving_yuan_per_night=350,
    saving_nights_outpatient=2,
    saving_nights_admission=10,
    saving_nights_transfer=14,
)


@pytest.mark.parametrize(
    ("km", "care", "expected"),
    [
        # 2 * 150 * 0.8 * 2 = 480 transport; 2 nights * 350 = 700
        (150.0, CareType.OUTPATIENT, 1180.0),
        # 480 + 10 * 350
        (150.0, CareType.ADMISSION, 3980.0),
        # 2 * 12.5 * 0.8 * 2 = 40; 14 * 350 = 4900
        (12.5, CareType.TRANSFER, 4940.0),
        (0.0, CareType.OUTPATIENT, 700.0),
    ],
    ids=["outpatient", "admission", "transfer", "next-door"],
)
def test_estimate_by_hand(km: float, care: CareType, expected: float) -> None:
    assert estimate(km, care, SETTINGS) == expected


def test_estimate_follows_the_settings() -> None:
    alone = SETTINGS.model_copy(update={"saving_travellers": 1, "saving_yuan_per_night": 0})
    assert estimate(100, "outpatient", alone) == 160.0
    assert nights("admission", SETTINGS) == 10


def test_negative_distance_is_refused() -> None:
    with pytest.raises(ValueError):
        estimate(-1, CareType.OUTPATIENT, SETTINGS)


@given(st.floats(0, 5000), st.floats(0, 5000), st.sampled_from(list(CareType)))
def test_estimate_grows_with_distance(a: float, b: float, care: CareType) -> None:
    lo, hi = sorted((a, b))
    assert estimate(lo, care, SETTINGS) <= estimate(hi, care, SETTINGS)


def test_haversine_beijing_to_baoding() -> None:
    # Tiananmen to Baoding city centre: about 140 km as the crow flies
    km = haversine_km(39.9042, 116.4074, 38.8739, 115.4646)
    assert 138 < km < 142
    assert haversine_km(38.0, 115.0, 38.0, 115.0) == 0.0
    assert haversine_km(0, 0, 0, 1) == pytest.approx(111.19, abs=0.01)


def test_kept_local() -> None:
    assert kept_local("down", False)
    assert kept_local("up", True)
    assert not kept_local("up", False)
