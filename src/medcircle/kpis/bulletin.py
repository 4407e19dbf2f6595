"""The yearly bulletin of a region's part in the care circle. Every figure is an indicator
computed by ``service.compute`` with the reader's rights, so the bulletin and the indicators
dashboard always agree; the text is ``bulletin_text``'s.

Who may read it: whoever may read the region indicators (the commission, a platform
administrator). The hospitals taking part are the capital's institutions in the out-calls
indicator's breakdown by (the experts' home) institution, that is those whose experts recorded
at least one out-call to the region in the year.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.auth.domain import Actor
from medcircle.kit.errors import Forbidden
from medcircle.kpis import service
from medcircle.kpis.bulletin_text import SLUGS, Figures, Month
from medcircle.kpis.catalogue import CAPITAL
from medcircle.registry.models import Division, Institution

DEFAULT_REGION = "130000"
# the outflow is told from this year on (the seeds' first figure: the year before the
# programme), or from the bulletin's year when that is earlier
BASELINE_YEAR = 2013


@dataclass(frozen=True)
class Bulletin:
    figures: Figures
    # the year's indicators the figures were read from, by slug
    computed: dict[str, service.Computed]


def may_read(actor: Actor) -> bool:
    return service.may_read(actor, service.indicator("outflow-share"))


def audited(session: Session, actor: Actor, b: Bulletin, action: str, **asked: str) -> Bulletin:
    """``b``, with ``actor``'s read (or download) of it kept in the audit trail."""
    service.audited(session, actor, action, year=b.figures.year, region=b.figures.region, **asked)
    return b


def gather(
    session: Session,
    actor: Actor,
    year: int,
    region: str = DEFAULT_REGION,
    *,
    today: date | None = None,
) -> Bulletin:
    """The region's figures of the year (a bad year or region is refused by the indicators'
    own checks, by its field)."""
    if not may_read(actor):
        raise Forbidden()

    def of(slug: str, y: int = year) -> service.Computed:
        return service.compute(session, actor, slug, y, region=region, today=today)

    c = {slug: of(slug) for slug in SLUGS}
    outflow = tuple(
        (y, c["outflow-share"].value if y == year else of("outflow-share", y).value)
        for y in range(min(BASELINE_YEAR, year), year + 1)
    )
    home = [f.key for f in c["out-calls"].by_institution if f.numerator]
    capital = session.scalars(
        select(Institution.code).where(
            Institution.code.in_(home), Institution.province_code == CAPITAL
        )
    ).all()
    division = session.get(Division, region)
    assert division is not None  # the indicators checked it
    months = tuple(
        Month(calls.key, calls.numerator, up.numerator, down.numerator)
        for calls, up, down in zip(
            c["out-calls"].by_month,
            c["referrals-up"].by_month,
            c["referrals-down"].by_month,
            strict=True,
        )
    )
    figures = Figures(
        year=year,
        region=region,
        region_zh=division.name_zh,
        region_en=division.name_en,
        institutions=len(capital),
        out_calls=c["out-calls"].numerator,
        person_visits=c["expert-person-visits"].numerator,
        patients=c["patients-received"].numerator,
        operations=c["visiting-operations"].numerator,
        consultations=c["remote-consultations"].numerator,
        referrals_up=c["referrals-up"].numerator,
        referrals_down=c["referrals-down"].numerator,
        kept_local=c["family-costs-avoided"].denominator,
        costs_avoided_yuan=c["family-costs-avoided"].value or 0.0,
        outflow=outflow,
        local_rate=c["local-treatment-rate"].value,
        cleanroom_admissions=c["cleanroom-wait-days"].denominator,
        cleanroom_wait_days=c["cleanroom-wait-days"].value,
        cleanroom_occupancy=c["cleanroom-occupancy"].value,
        months=months,
    )
    return Bulletin(figures=figures, computed=c)


def file_name(f: Figures, locale: str) -> str:
    """``medcircle-bulletin-2016-en.pdf`` (the region named when not the default)."""
    where = "" if f.region == DEFAULT_REGION else f"-{f.region}"
    return f"medcircle-bulletin-{f.year}{where}-{locale}.pdf"
