"""Measures of visiting experts per home institution, site institution and specialty.

A visit record belongs to the period in which its visit **starts** (``starts_on``), and all
its figures count there; so the years of a history add up to its whole. Over the records of
a period (a calendar year, or days from a start to an end, both included):

- **out-calls** (出诊人次): the number of visit records; one expert going out once;
- **person-visits** (专家人次·天): expert-days on site, the sum over the records of their days
  (both ends included: a day trip is 1, a stay from Monday to Friday is 5);
- **trips** (趟次): journeys, the records grouped by home institution, site institution,
  specialty and start date: a team of one specialty travelling together counts once; teams
  of different specialties leaving the same day for the same site count as separate trips
  (they go to different departments, usually on their own). Records without a specialty form
  one group of their own;
- **experts**: the distinct experts among the records (not additive: an expert who goes to
  two sites is counted once in the total);
- **patients received** (接诊患者): the sum of the outpatients seen;
- **operations**: the sum of the counts of the operation rows;
- **ward rounds**, **teaching sessions**, **difficult cases** consulted: the sums of those
  counts.

Figures are counted in Python over the rows, so both databases give the same answers.

Who sees what: commission analysts and platform admins (``AGREEMENT_MANAGE_ALL``) the whole
circle. Others need ``DISPATCH_READ`` and see the records of their own institution, as the
experts' home or as the site.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from sqlalchemy import ColumnElement, func, or_, select, true
from sqlalchemy.orm import Session

from medcircle.audit import service as audit
from medcircle.audit.service import safe_cells
from medcircle.auth.domain import Actor, Permission
from medcircle.dispatch.models import VisitOperation, VisitRecord
from medcircle.dispatch.visit_rules import Period, visit_days
from medcircle.kit.errors import Forbidden
from medcircle.kit.i18n import N_
from medcircle.registry.models import Institution, SpecialtyRow


class Group(StrEnum):
    HOME = "home"
    SITE = "site"
    SPECIALTY = "specialty"


GROUP_LABELS: dict[Group, str] = {
    Group.HOME: N_("By home institution"),
    Group.SITE: N_("By site institution"),
    Group.SPECIALTY: N_("By specialty"),
}
NONE_LABEL = N_("Not given")


@dataclass(frozen=True)
class VisitFact:
    """What one record contributes to the measures."""

    user_id: int
    home_institution_id: int
    site_institution_id: int
    specialty_code: str | None
    starts_on: date
    ends_on: date
    outpatients: int = 0
    operations: int = 0
    ward_rounds: int = 0
    teaching_sessions: int = 0
    difficult_cases: int = 0

    @property
    def trip(self) -> tuple[int, int, str | None, date]:
        """The journey the record was part of (see the module's docstring)."""
        return (
            self.home_institution_id,
            self.site_institution_id,
            self.specialty_code,
            self.starts_on,
        )


@dataclass
class Tally:
    """The figures of one line, collected record by record."""

    out_calls: int = 0
    person_visits: int = 0
    trips: set[tuple[int, int, str | None, date]] = field(default_factory=set)
    experts: set[int] = field(default_factory=set)
    outpatients: int = 0
    operations: int = 0
    ward_rounds: int = 0
    teaching_sessions: int = 0
    difficult_cases: int = 0

    def add(self, f: VisitFact) -> None:
        self.out_calls += 1
        self.person_visits += visit_days(f.starts_on, f.ends_on)
        self.trips.add(f.trip)
        self.experts.add(f.user_id)
        self.outpatients += f.outpatients
        self.operations += f.operations
        self.ward_rounds += f.ward_rounds
        self.teaching_sessions += f.teaching_sessions
        self.difficult_cases += f.difficult_cases


@dataclass(frozen=True)
class MeasureRow:
    """One line: ``key`` is the institution id or specialty code ("" when not given)."""

    key: str
    label_zh: str
    label_en: str
    out_calls: int
    person_visits: int
    trips: int
    experts: int
    outpatients: int
    operations: int
    ward_rounds: int
    teaching_sessions: int
    difficult_cases: int


def row_of(key: str, label_zh: str, label_en: str, t: Tally) -> MeasureRow:
    return MeasureRow(
        key=key,
        label_zh=label_zh,
        label_en=label_en,
        out_calls=t.out_calls,
        person_visits=t.person_visits,
        trips=len(t.trips),
        experts=len(t.experts),
        outpatients=t.outpatients,
        operations=t.operations,
        ward_rounds=t.ward_rounds,
        teaching_sessions=t.teaching_sessions,
        difficult_cases=t.difficult_cases,
    )


def key_of(group: Group, f: VisitFact) -> str:
    if group is Group.HOME:
        return str(f.home_institution_id)
    if group is Group.SITE:
        return str(f.site_institution_id)
    return f.specialty_code or ""


def tally(
    facts: Iterable[VisitFact], groups: Iterable[Group]
) -> tuple[dict[Group, dict[str, Tally]], Tally]:
    """The tallies of each group's lines and of the whole, in one pass over the facts."""
    wanted = list(groups)
    lines: dict[Group, dict[str, Tally]] = {g: {} for g in wanted}
    total = Tally()
    for f in facts:
        total.add(f)
        for g in wanted:
            lines[g].setdefault(key_of(g, f), Tally()).add(f)
    return lines, total


@dataclass(frozen=True)
class Measures:
    group: Group
    period: Period
    # None: the whole circle; else the institution whose view this is
    institution_id: int | None
    specialty: str | None
    rows: list[MeasureRow]
    total: MeasureRow


def may_read(actor: Actor) -> bool:
    return actor.can(Permission.AGREEMENT_MANAGE_ALL) or actor.can(Permission.DISPATCH_READ)


def _scope(actor: Actor) -> tuple[ColumnElement[bool], bool]:
    """The records the actor's view covers, and whether it is the whole circle."""
    if actor.can(Permission.AGREEMENT_MANAGE_ALL):
        return true(), True
    if not actor.can(Permission.DISPATCH_READ):
        raise Forbidden()
    mine = actor.institution_id
    return (
        or_(VisitRecord.home_institution_id == mine, VisitRecord.site_institution_id == mine),
        False,
    )


def facts_of(
    session: Session,
    where: ColumnElement[bool],
    when: Period,
    specialty: str | None = None,
    home_institution_id: int | None = None,
) -> list[VisitFact]:
    """The facts of the records in ``where`` that start in ``when``."""
    ops = (
        select(VisitOperation.visit_id, func.sum(VisitOperation.count).label("n"))
        .group_by(VisitOperation.visit_id)
        .subquery()
    )
    query = (
        select(
            VisitRecord.user_id,
            VisitRecord.home_institution_id,
            VisitRecord.site_institution_id,
            VisitRecord.specialty_code,
            VisitRecord.starts_on,
            VisitRecord.ends_on,
            VisitRecord.outpatients,
            func.coalesce(ops.c.n, 0),
            VisitRecord.ward_rounds,
            VisitRecord.teaching_sessions,
            VisitRecord.difficult_cases,
        )
        .outerjoin(ops, ops.c.visit_id == VisitRecord.id)
        .where(where, VisitRecord.starts_on >= when.start, VisitRecord.starts_on <= when.end)
    )
    if specialty:
        query = query.where(VisitRecord.specialty_code == specialty)
    if home_institution_id is not None:
        query = query.where(VisitRecord.home_institution_id == home_institution_id)
    return [
        VisitFact(
            user_id=r[0],
            home_institution_id=r[1],
            site_institution_id=r[2],
            specialty_code=r[3],
            starts_on=r[4],
            ends_on=r[5],
            outpatients=r[6],
            operations=int(r[7]),
            ward_rounds=r[8],
            teaching_sessions=r[9],
            difficult_cases=r[10],
        )
        for r in session.execute(query)
    ]


def compute_all(
    session: Session,
    actor: Actor,
    when: Period,
    specialty: str | None = None,
    groups: Iterable[Group] = tuple(Group),
) -> dict[Group, Measures]:
    """The measures of the actor's view, for each of ``groups`` (one pass over the rows)."""
    where, everything = _scope(actor)
    wanted = list(groups)
    lines, total = tally(facts_of(session, where, when, specialty), wanted)
    total_row = row_of("", "全部", "All", total)
    out: dict[Group, Measures] = {}
    for g in wanted:
        labels = _labels(session, g, lines[g].keys())
        rows = [row_of(k, *labels.get(k, (k, k)), t) for k, t in lines[g].items()]
        rows.sort(key=lambda r: (-r.out_calls, r.label_en, r.key))
        out[g] = Measures(
            group=g,
            period=when,
            institution_id=None if everything else actor.institution_id,
            specialty=specialty,
            rows=rows,
            total=total_row,
        )
    return out


def _labels(session: Session, group: Group, keys: Iterable[str]) -> dict[str, tuple[str, str]]:
    wanted = [k for k in keys if k]
    out: dict[str, tuple[str, str]] = {"": ("未填写", "Not given")}
    if not wanted:
        return out
    if group is Group.SPECIALTY:
        for s in session.scalars(select(SpecialtyRow).where(SpecialtyRow.code.in_(wanted))):
            out[s.code] = (s.name_zh, s.name_en)
    else:
        for i in session.scalars(
            select(Institution).where(Institution.id.in_([int(k) for k in wanted]))
        ):
            out[str(i.id)] = (i.name_zh, i.name_en)
    return out


def read_all(
    session: Session,
    actor: Actor,
    when: Period,
    specialty: str | None = None,
    groups: Iterable[Group] = tuple(Group),
    *,
    export: bool = False,
) -> dict[Group, Measures]:
    """``compute_all`` with the read (or the export) audited."""
    if not may_read(actor):
        raise Forbidden()
    wanted = list(groups)
    result = compute_all(session, actor, when, specialty, wanted)
    audit.record(
        session,
        actor,
        "visit.measures_export" if export else "visit.measures_read",
        object_type="visit_measures",
        detail={
            "groups": [g.value for g in wanted],
            "start": when.start.isoformat(),
            "end": when.end.isoformat(),
            "specialty": specialty,
        },
    )
    return result


def read(
    session: Session,
    actor: Actor,
    group: Group,
    when: Period,
    specialty: str | None = None,
    *,
    export: bool = False,
) -> Measures:
    """The measures of one grouping (audited)."""
    return read_all(session, actor, when, specialty, [group], export=export)[group]


CSV_COLUMNS = (
    "group",
    "key",
    "name_zh",
    "name_en",
    "out_calls",
    "person_visits",
    "trips",
    "experts",
    "patients_received",
    "operations",
    "ward_rounds",
    "teaching_sessions",
    "difficult_cases",
)


def csv_text(m: Measures) -> str:
    """The table as CSV (UTF-8 with BOM so spreadsheets read Chinese); cells that start like
    a formula are quoted so they stay text."""
    buf = io.StringIO()
    buf.write("\ufeff")
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    for r in [*m.rows, m.total]:
        writer.writerow(
            safe_cells(
                m.group.value,
                r.key if r is not m.total else "*",
                r.label_zh,
                r.label_en,
                r.out_calls,
                r.person_visits,
                r.trips,
                r.experts,
                r.outpatients,
                r.operations,
                r.ward_rounds,
                r.teaching_sessions,
                r.difficult_cases,
            )
        )
    return buf.getvalue()


def csv_name(m: Measures) -> str:
    return f"visit-measures-{m.group.value}-{m.period.start}-{m.period.end}.csv"
