"""What needs the attention of each role, for the home page.

Each card comes from the same services as the pages it links to, so it shows only what the
user may see there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.orm import Session

from medcircle.agreements import service as agreements
from medcircle.agreements.domain import ENDING_SOON_MONTHS, AgreementStatus, add_months
from medcircle.agreements.repository import AgreementFilter
from medcircle.audit import service as audit
from medcircle.audit.domain import Outcome
from medcircle.audit.repository import AuditFilter
from medcircle.auth import service as auth_service
from medcircle.auth.domain import Actor, Permission, Role
from medcircle.consultations import queries as consult_queries
from medcircle.consultations import rota_service
from medcircle.consultations.domain import WarningKind
from medcircle.consultations.rota_pages import day_of, warning_text
from medcircle.kit import clock
from medcircle.kit.i18n import gettext
from medcircle.kit.pagination import PageParams
from medcircle.referrals import queries as referral_queries
from medcircle.registry import service as registry
from medcircle.web.templating import localised

FEW = PageParams(page=1, size=5)
ONE = PageParams(page=1, size=1)


@dataclass
class Card:
    """One box on the home page: a title, a figure, lines (text, link) and a link."""

    title: str
    value: str | None = None
    lines: list[tuple[str, str | None]] = field(default_factory=list)
    href: str | None = None
    tone: str = "normal"
    testid: str = ""


def _institution_card(session: Session, actor: Actor) -> Card:
    inst = registry.get_institution(session, actor, actor.institution_id)
    return Card(
        title=gettext("Your institution"),
        lines=[(localised(inst), f"/institutions/{inst.id}")],
        href=f"/institutions/{inst.id}",
        testid="card-institution",
    )


def _party_filter(actor: Actor) -> int | None:
    """Region-wide roles see every pairing; others see their own institution's."""
    return None if actor.can(Permission.AGREEMENT_MANAGE_ALL) else actor.institution_id


def _agreement_cards(session: Session, actor: Actor) -> list[Card]:
    today = clock.today()
    party = _party_filter(actor)
    active, n_active = agreements.list_agreements(
        session,
        actor,
        AgreementFilter(on=today, status=AgreementStatus.ACTIVE, institution_id=party),
        FEW,
    )
    soon, n_soon = agreements.list_agreements(
        session,
        actor,
        AgreementFilter(
            on=today,
            status=AgreementStatus.ACTIVE,
            institution_id=party,
            ends_before=add_months(today, ENDING_SOON_MONTHS),
        ),
        FEW,
    )
    overdue, n_overdue = agreements.list_overdue_goals(session, actor, FEW, today)
    cards = []
    if n_soon:
        cards.append(
            Card(
                title=gettext("Agreements ending within 6 months"),
                value=str(n_soon),
                lines=[
                    (
                        f"{localised(v.agreement, 'title')} · {v.agreement.ends_on.isoformat()}",
                        f"/agreements/{v.agreement.id}",
                    )
                    for v in soon
                ],
                href="/agreements?ending_within_months=6",
                tone="warn",
                testid="card-ending",
            )
        )
    if n_overdue:
        cards.append(
            Card(
                title=gettext("Overdue goals"),
                value=str(n_overdue),
                lines=[
                    (localised(g.goal, "description"), f"/agreements/{g.goal.agreement_id}")
                    for g in overdue
                ],
                href="/agreements#overdue-goals",
                tone="bad",
                testid="card-overdue",
            )
        )
    cards.append(
        Card(
            title=gettext("Active agreements"),
            value=str(n_active),
            lines=[
                (localised(v.agreement, "title"), f"/agreements/{v.agreement.id}") for v in active
            ],
            href="/agreements",
            testid="card-active",
        )
    )
    return cards


def _alliance_cards(session: Session, actor: Actor) -> list[Card]:
    led, _ = registry.list_alliances(
        session, actor, FEW, member_institution_id=actor.institution_id
    )
    led = [
        a
        for a in led
        if a.lead_institution_id == actor.institution_id or actor.has_role(Role.PLATFORM_ADMIN)
    ]
    counts = registry.active_member_counts(session, actor, [a.id for a in led])
    return [
        Card(
            title=localised(a),
            value=str(counts.get(a.id, 0)),
            lines=[
                (
                    gettext(
                        "active members; %(n)s centres",
                        n=registry.centre_count(session, actor, a.id),
                    ),
                    None,
                )
            ],
            href=f"/alliances/{a.id}",
            testid="card-alliance",
        )
        for a in led
    ]


def _audit_cards(session: Session, actor: Actor) -> list[Card]:
    since = clock.now() - timedelta(hours=24)
    _, failed_logins = audit.list_events(
        session,
        actor,
        AuditFilter(action="auth.login", outcome=Outcome.FAILURE.value, since=since),
        ONE,
    )
    _, locked = audit.list_events(
        session,
        actor,
        AuditFilter(action="auth.login", outcome=Outcome.DENIED.value, since=since),
        ONE,
    )
    _, denied = audit.list_events(
        session, actor, AuditFilter(outcome=Outcome.DENIED.value, since=since), ONE
    )
    return [
        Card(
            title=gettext("Failed logins, last 24 hours"),
            value=str(failed_logins),
            href="/audit?action=auth.login&outcome=failure",
            tone="warn" if failed_logins else "normal",
            testid="card-failed-logins",
        ),
        Card(
            title=gettext("Refused actions, last 24 hours"),
            value=str(denied),
            lines=[(gettext("of which logins to locked accounts: %(n)s", n=locked), None)],
            href="/audit?outcome=denied",
            tone="bad" if denied else "normal",
            testid="card-denied",
        ),
    ]


def _user_cards(session: Session, actor: Actor) -> list[Card]:
    _, total = auth_service.list_users(session, actor, ONE)
    return [
        Card(title=gettext("User accounts"), value=str(total), href="/users", testid="card-users")
    ]


def _referral_cards(session: Session, actor: Actor) -> list[Card]:
    """Worklist counts with links, and the first steps of a referral."""
    counts = referral_queries.counts(session, actor)
    lists = referral_queries.Worklist
    cards: list[Card] = []
    if lists.ESCALATED in counts:
        n = counts[lists.ESCALATED]
        cards.append(
            Card(
                title=gettext("Escalated referrals"),
                value=str(n),
                lines=[(gettext("still not triaged after their institution was told"), None)],
                href="/referrals?list=escalated",
                tone="bad" if n else "normal",
                testid="card-escalated",
            )
        )
    shown = [name for name in lists if name in counts and name is not lists.ESCALATED]
    if shown:
        incoming = counts.get(lists.INCOMING, 0)
        cards.append(
            Card(
                title=gettext("Referrals waiting for triage")
                if lists.INCOMING in counts
                else gettext("Referrals"),
                value=str(incoming) if lists.INCOMING in counts else None,
                lines=[
                    (
                        f"{gettext(referral_queries.WORKLIST_LABELS[name])}: {counts[name]}",
                        f"/referrals?list={name.value}",
                    )
                    for name in shown
                ],
                href="/referrals",
                tone="warn" if incoming else "normal",
                testid="card-referrals",
            )
        )
    steps: list[tuple[str, str | None]] = []
    if actor.can(Permission.PATIENT_MANAGE):
        steps.append((gettext("Register a patient"), "/patients/new"))
    if actor.can(Permission.PATIENT_READ):
        steps.append((gettext("Find a patient"), "/patients"))
    if actor.can(Permission.REFERRAL_SEND):
        steps.append((gettext("New referral"), "/referrals/new"))
        steps.append((gettext("Departments and current waits"), "/directory"))
    if steps:
        cards.append(
            Card(title=gettext("Patients and referrals"), lines=steps, testid="card-start")
        )
    return cards


def _consultation_cards(session: Session, actor: Actor) -> list[Card]:
    """Consultation worklist counts with links (whose turn: the expert's own cases first),
    and the step to ask for one."""
    counts = consult_queries.counts(session, actor)
    lists = consult_queries.Worklist
    lines: list[tuple[str, str | None]] = [
        (
            f"{gettext(consult_queries.WORKLIST_LABELS[name])}: {counts[name]}",
            f"/consultations?list={name.value}",
        )
        for name in lists
        if name in counts
    ]
    if actor.can(Permission.CONSULT_ASK):
        lines.append((gettext("Ask for a consultation"), "/consultations/new"))
    if not lines:
        return []
    # the figure: what waits for this reader (held, else in the pool, else asked)
    first = next((n for n in (lists.MINE, lists.POOL, lists.ASKED) if n in counts), None)
    pressing = counts.get(lists.MINE, 0) + counts.get(lists.AT_RISK, 0)
    return [
        Card(
            title=gettext("Consultations"),
            value=str(counts[first]) if first is not None else None,
            lines=lines,
            href=f"/consultations?list={first.value}" if first is not None else "/consultations",
            tone="bad" if counts.get(lists.AT_RISK) else "warn" if pressing else "normal",
            testid="card-consultations",
        )
    ]


def _rota_cards(session: Session, actor: Actor) -> list[Card]:
    """For those who keep the on-call rotas: the problems of the next two weeks, gaps first,
    so they are fixed before they happen."""
    problems = rota_service.warnings_summary(session, actor)
    if not problems:
        return []
    gaps = [p for p in problems if p.kind in (WarningKind.GAP, WarningKind.NO_PRIMARY)]
    specialties = registry.specialties_by_code(session, actor)

    def line(p: rota_service.WarningView) -> str:
        row = specialties.get(p.specialty_code)
        name = localised(row) if row is not None else p.specialty_code
        return gettext("%(rota)s: %(warning)s", rota=name, warning=warning_text(p))

    return [
        Card(
            title=gettext("On-call rotas: problems ahead"),
            value=str(len(problems)),
            lines=[
                (line(p), f"/rotas/{p.specialty_code}?week={day_of(p.warning.starts_at)}")
                for p in problems[:3]
            ],
            href="/rotas",
            tone="bad" if gaps else "warn",
            testid="card-rota-problems",
        )
    ]


def attention(session: Session, actor: Actor) -> list[Card]:
    """The cards for ``actor``'s roles, most pressing first."""
    cards: list[Card] = []
    if actor.can(Permission.REFERRAL_READ) or actor.can(Permission.REFERRAL_OVERSEE):
        cards += _referral_cards(session, actor)
    if actor.can(Permission.CONSULT_READ):
        cards += _consultation_cards(session, actor)
    if actor.can(Permission.ROTA_MANAGE):
        cards += _rota_cards(session, actor)
    if actor.can(Permission.AUDIT_READ):
        cards += _audit_cards(session, actor)
    if actor.can(Permission.AGREEMENT_READ):
        cards += _agreement_cards(session, actor)
    if actor.can(Permission.ALLIANCE_MANAGE):
        cards += _alliance_cards(session, actor)
    if actor.can(Permission.USER_MANAGE_OWN) or actor.can(Permission.USER_MANAGE_ALL):
        cards += _user_cards(session, actor)
    if actor.can(Permission.REGISTRY_READ):
        cards.append(_institution_card(session, actor))
    return cards
