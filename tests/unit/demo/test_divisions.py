"""The administrative divisions shipped as reference data (Beijing, Hebei, Baoding)."""

from __future__ import annotations

import csv

import pytest

from medcircle.registry.domain import ADCODE_RE
from medcircle.registry.reference import DIVISIONS_CSV


@pytest.fixture(scope="module")
def rows() -> dict[str, dict[str, str]]:
    with DIVISIONS_CSV.open(encoding="utf-8") as fh:
        data = list(csv.DictReader(fh))
    by_code = {r["code"]: r for r in data}
    assert len(by_code) == len(data), "codes are unique"
    return by_code


def children(rows: dict[str, dict[str, str]], parent: str) -> set[str]:
    return {c for c, r in rows.items() if r["parent_code"] == parent}


def test_every_row_is_well_formed(rows: dict[str, dict[str, str]]) -> None:
    for code, r in rows.items():
        assert ADCODE_RE.match(code)
        assert r["name_zh"] and r["name_en"]
        assert not r["parent_code"] or r["parent_code"] in rows
        lat, lon = float(r["latitude"]), float(r["longitude"])
        # the whole circle lies in north China
        assert 36 < lat < 42 and 113 < lon < 120


def test_beijing_has_its_sixteen_districts(rows: dict[str, dict[str, str]]) -> None:
    assert rows["110100"]["parent_code"] == "110000"
    districts = children(rows, "110100")
    assert len(districts) == 16
    assert all(rows[d]["name_zh"].endswith("区") for d in districts)
    assert {"110101", "110102", "110105", "110106", "110108", "110119"} <= districts


def test_hebei_has_its_eleven_cities(rows: dict[str, dict[str, str]]) -> None:
    cities = children(rows, "130000")
    assert len(cities) == 11
    assert all(rows[c]["name_zh"].endswith("市") for c in cities)
    assert "130600" in cities


def test_baoding_has_all_its_districts_counties_and_cities(
    rows: dict[str, dict[str, str]],
) -> None:
    units = children(rows, "130600")
    kinds = [rows[u]["name_zh"][-1] for u in units]
    assert len(units) == 24
    assert kinds.count("区") == 5 and kinds.count("县") == 15 and kinds.count("市") == 4
    assert rows["130623"]["name_zh"] == "涞水县"
    assert rows["130681"]["name_en"] == "Zhuozhou City"
    assert all(u.startswith("1306") for u in units)
