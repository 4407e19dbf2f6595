"""Reference data every deployment needs: the specialty list and administrative divisions."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.registry.domain import SPECIALTIES, division_level
from medcircle.registry.models import Division, SpecialtyRow

DIVISIONS_CSV = Path(__file__).resolve().parent / "data" / "divisions.csv"


def load_reference_data(session: Session) -> tuple[int, int]:
    """Insert or update specialties and divisions (idempotent); returns how many of each."""
    known_specs = {s.code: s for s in session.scalars(select(SpecialtyRow))}
    for spec in SPECIALTIES:
        row = known_specs.get(spec.code)
        if row is None:
            session.add(SpecialtyRow(code=spec.code, name_zh=spec.name_zh, name_en=spec.name_en))
        else:
            row.name_zh, row.name_en = spec.name_zh, spec.name_en
    session.flush()
    known = {d.code: d for d in session.scalars(select(Division))}
    with DIVISIONS_CSV.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    # parents first, so the self-reference is always satisfied
    rows.sort(
        key=lambda r: (
            division_level(r["code"]) != "province",
            division_level(r["code"]) == "county",
        )
    )
    for r in rows:
        values = {
            "name_zh": r["name_zh"],
            "name_en": r["name_en"],
            "level": division_level(r["code"]).value,
            "parent_code": r["parent_code"] or None,
            "latitude": float(r["latitude"]) if r["latitude"] else None,
            "longitude": float(r["longitude"]) if r["longitude"] else None,
        }
        div = known.get(r["code"])
        if div is None:
            session.add(Division(code=r["code"], **values))
            session.flush()
        else:
            for k, v in values.items():
                setattr(div, k, v)
    session.flush()
    return len(SPECIALTIES), len(rows)
