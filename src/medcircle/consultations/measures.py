"""Measures of remote consultation per answering institution, specialty and expert.

Over the consultations asked in a period (by ``asked_at``, days in China Standard Time, both
ends included; the last 90 days by default):

- **asked**: how many were asked; **answered**: how many got a first answer;
- **median** and **90th percentile** of the time to the first answer (``first_answer_seconds``,
  the response clock without its pauses), by the *nearest-rank* method: the p-th percentile of
  n sorted values is the value at rank ⌈p·n/100⌉ (so the median of an even count is the lower
  of the two middle values). It is computed in Python on the rows, so both databases give
  the same figures;
- **within target**: the share of answered cases whose first answer came within the target
  (``within_target`` true among those where it is known);
- **referral avoided**: the share of the asker's ratings that say a referral was avoided
  (``referral_avoided`` true among those where it is given);
- **satisfaction**: the mean ``helpful`` rating (1–5) and how many cases were rated.

Who sees what: commission analysts and platform admins (AGREEMENT_MANAGE_ALL) the whole
circle. Others need CONSULT_READ: by institution they see the lines of the cases their
institution answers or asked (a case it asked counts in the line of the institution that
answers it); by specialty and by expert the cases their institution answers; an expert who
does not coordinate sees only their own line by expert.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.orm import Session

from medcircle.audit import service as audit
from medcircle.auth.domain import Actor, Permission
from medcircle.auth.models import User
from medcircle.consultations.models import Consultation
from medcircle.kit.clock import CST
from medcircle.kit.errors import FieldError, Forbidden, ValidationFailed
from medcircle.kit.i18n import N_
from medcircle.registry.models import Institution, SpecialtyRow

DEFAULT_DAYS = 90
# ten years and a little: enough for the whole history of the demo, not a runaway scan
MAX_DAYS = 3700


class Group(StrEnum):
    INSTITUTION = "institution"
    SPECIALTY = "specialty"
    EXPERT = "expert"


GROUP_LABELS: dict[Group, str] = {
    Group.INSTITUTION: N_("By answering institution"),
    Group.SPECIALTY: N_("By specialty"),
    Group.EXPERT: N_("By expert"),
}
NOBODY = N_("Not assigned")
ALL = N_("All in view")


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def _bad(field_name: str, code: str, message: str, **params: Any) -> ValidationFailed:
    return ValidationFailed(
        code=code, field_errors=[FieldError(field_name, message, dict(params), code=code)]
    )


def period(start: date | None, end: date | None, today: date) -> Period:
    """The period asked for: the last 90 days up to ``today`` by default; an end before the
    start is a 422 ``bad_period``, more than 3,700 days a 422 ``period_too_long``."""
    end = end or today
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if end < start:
        raise _bad("end", "bad_period", N_("The end of the period is before its start."))
    if (end - start).days + 1 > MAX_DAYS:
        raise _bad("start", "period_too_long", N_("Choose at most %(days)s days."), days=MAX_DAYS)
    return Period(start, end)


def nearest_rank(ordered: Sequence[int], p: float) -> int | None:
    """The p-th percentile (0 < p ≤ 100) of ascending ``ordered`` by nearest rank."""
    if not ordered:
        return None
    rank = max(1, math.ceil(p * len(ordered) / 100))
    return ordered[rank - 1]


@dataclass
class Tally:
    """The figures of one line, collected case by case."""

    asked: int = 0
    seconds: list[int] = field(default_factory=list)
    within_known: int = 0
    within_yes: int = 0
    avoided_known: int = 0
    avoided_yes: int = 0
    helpful: list[int] = field(default_factory=list)

    def add(
        self,
        first_answer_seconds: int | None,
        within_target: bool | None,
        referral_avoided: bool | None,
        helpful: int | None,
    ) -> None:
        self.asked += 1
        if first_answer_seconds is not None:
            self.seconds.append(first_answer_seconds)
        if within_target is not None:
            self.within_known += 1
            self.within_yes += bool(within_target)
        if referral_avoided is not None:
            self.avoided_known += 1
            self.avoided_yes += bool(referral_avoided)
        if helpful is not None:
            self.helpful.append(helpful)


@dataclass(frozen=True)
class MeasureRow:
    """One line: ``key`` is the institution id, specialty code or user id ("" for cases
    nobody holds) and the label in both languages."""

    key: str
    label_zh: str
    label_en: str
    asked: int
    answered: int
    median_seconds: int | None
    p90_seconds: int | None
    within_target_share: float | None
    within_target_known: int
    referral_avoided_share: float | None
    referral_avoided_known: int
    helpful_mean: float | None
    rated: int


def _share(yes: int, known: int) -> float | None:
    return round(yes / known, 4) if known else None


def row_of(key: str, label_zh: str, label_en: str, t: Tally) -> MeasureRow:
    ordered = sorted(t.seconds)
    return MeasureRow(
        key=key,
        label_zh=label_zh,
        label_en=label_en,
        asked=t.asked,
        answered=len(ordered),
        median_seconds=nearest_rank(ordered, 50),
        p90_seconds=nearest_rank(ordered, 90),
        within_target_share=_share(t.within_yes, t.within_known),
        within_target_known=t.within_known,
        referral_avoided_share=_share(t.avoided_yes, t.avoided_known),
        referral_avoided_known=t.avoided_known,
        helpful_mean=round(sum(t.helpful) / len(t.helpful), 2) if t.helpful else None,
        rated=len(t.helpful),
    )


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
    return actor.can(Permission.AGREEMENT_MANAGE_ALL) or actor.can(Permission.CONSULT_READ)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=CST).astimezone(UTC)


def _scope(actor: Actor, group: Group) -> tuple[ColumnElement[bool], bool]:
    """The cases the actor's view covers, and whether it is the whole circle."""
    if actor.can(Permission.AGREEMENT_MANAGE_ALL):
        return true(), True
    if not actor.can(Permission.CONSULT_READ):
        raise Forbidden()
    mine = actor.institution_id
    if group is Group.INSTITUTION:
        return (
            or_(
                Consultation.answer_institution_id == mine,
                Consultation.asker_institution_id == mine,
            ),
            False,
        )
    return Consultation.answer_institution_id == mine, False


def _only_own_line(actor: Actor, group: Group) -> bool:
    return (
        group is Group.EXPERT
        and not actor.can(Permission.AGREEMENT_MANAGE_ALL)
        and not actor.can(Permission.CONSULT_COORDINATE)
    )


def compute(
    session: Session,
    actor: Actor,
    group: Group,
    when: Period,
    specialty: str | None = None,
) -> Measures:
    """The measures of the actor's view (see the module's docstring)."""
    scope, everything = _scope(actor, group)
    key_col: Any
    if group is Group.INSTITUTION:
        key_col = Consultation.answer_institution_id
    elif group is Group.SPECIALTY:
        key_col = Consultation.specialty_code
    else:
        key_col = Consultation.opinion_by_user_id
    query = select(
        key_col,
        Consultation.assignee_user_id,
        Consultation.first_answer_seconds,
        Consultation.within_target,
        Consultation.referral_avoided,
        Consultation.helpful,
    ).where(
        scope,
        Consultation.asked_at >= _day_start(when.start),
        Consultation.asked_at < _day_start(when.end + timedelta(days=1)),
    )
    if specialty:
        query = query.where(Consultation.specialty_code == specialty)
    if when.end < when.start:  # pragma: no cover - period() refuses it
        query = query.where(false())
    own_only = _only_own_line(actor, group)
    tallies: dict[str, Tally] = {}
    total = Tally()
    result: Any = session.execute(query)
    for key, assignee, seconds, within, avoided, helpful in result:
        if group is Group.EXPERT:
            # the author of the opinion, else who holds the case
            key = key if key is not None else assignee
            if own_only and key != actor.user_id:
                continue
        k = "" if key is None else str(key)
        tallies.setdefault(k, Tally()).add(seconds, within, avoided, helpful)
        total.add(seconds, within, avoided, helpful)
    labels = _labels(session, group, tallies.keys())
    rows = [row_of(k, *labels.get(k, (k, k)), t) for k, t in tallies.items()]
    rows.sort(key=lambda r: (-r.asked, r.label_en, r.key))
    return Measures(
        group=group,
        period=when,
        institution_id=None if everything else actor.institution_id,
        specialty=specialty,
        rows=rows,
        total=row_of("", "全部", "All", total),
    )


def _labels(session: Session, group: Group, keys: Iterable[str]) -> dict[str, tuple[str, str]]:
    wanted = [k for k in keys if k]
    out: dict[str, tuple[str, str]] = {"": ("未分配", "Not assigned")}
    if not wanted:
        return out
    if group is Group.INSTITUTION:
        for i in session.execute(
            select(Institution).where(Institution.id.in_([int(k) for k in wanted]))
        ).scalars():
            out[str(i.id)] = (i.name_zh, i.name_en)
    elif group is Group.SPECIALTY:
        for s in session.execute(
            select(SpecialtyRow).where(SpecialtyRow.code.in_(wanted))
        ).scalars():
            out[s.code] = (s.name_zh, s.name_en)
    else:
        for u in session.execute(
            select(User).where(User.id.in_([int(k) for k in wanted]))
        ).scalars():
            out[str(u.id)] = (u.display_name, u.display_name)
    return out


def read(
    session: Session,
    actor: Actor,
    group: Group,
    when: Period,
    specialty: str | None = None,
    *,
    export: bool = False,
) -> Measures:
    """``compute`` with the read (or the export) audited."""
    if not may_read(actor):
        raise Forbidden()
    result = compute(session, actor, group, when, specialty)
    audit.record(
        session,
        actor,
        "consultation.measures_export" if export else "consultation.measures_read",
        object_type="consultation_measures",
        detail={
            "group": group.value,
            "start": when.start.isoformat(),
            "end": when.end.isoformat(),
            "specialty": specialty,
            "lines": len(result.rows),
        },
    )
    return result


CSV_COLUMNS = (
    "group",
    "key",
    "name_zh",
    "name_en",
    "asked",
    "answered",
    "median_minutes",
    "p90_minutes",
    "within_target_percent",
    "referral_avoided_percent",
    "helpful_mean",
    "rated",
)


def _minutes(seconds: int | None) -> str:
    return "" if seconds is None else f"{seconds / 60:.1f}"


def _percent(share: float | None) -> str:
    return "" if share is None else f"{share * 100:.1f}"


def csv_text(m: Measures) -> str:
    """The table as CSV (UTF-8 with BOM so spreadsheets read Chinese); cells that start like
    a formula are quoted so they stay text."""
    import csv
    import io

    from medcircle.audit.service import safe_cells

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
                r.asked,
                r.answered,
                _minutes(r.median_seconds),
                _minutes(r.p90_seconds),
                _percent(r.within_target_share),
                _percent(r.referral_avoided_share),
                "" if r.helpful_mean is None else f"{r.helpful_mean:.2f}",
                r.rated,
            )
        )
    return buf.getvalue()
