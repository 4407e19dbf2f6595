"""Response targets of consultations per agreement: see them, set them, clear them.

An agreement may promise its own response time per urgency; where it does not, the
platform's default applies (``settings.consult_minutes_*``). ``service.targets_for`` reads
them when a consultation is asked, so a change applies to consultations asked afterwards:
cases already asked keep the target they were promised (``Consultation.target_minutes``).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from medcircle.agreements import service as agreements
from medcircle.agreements.domain import AgreementStatus
from medcircle.agreements.models import CooperationAgreement
from medcircle.audit import service as audit
from medcircle.auth.domain import Actor
from medcircle.config import Settings
from medcircle.consultations.domain import URGENCY_LABELS, Urgency
from medcircle.consultations.models import ConsultTarget
from medcircle.kit import i18n
from medcircle.kit.errors import Conflict, FieldError, Forbidden, ValidationFailed
from medcircle.kit.i18n import N_

AUDIT_ACTION = "agreement.consult_targets"
MIN_MINUTES = 5
MAX_MINUTES = 30 * 24 * 60  # 30 days

# the order in which targets must not shrink
ORDER = (Urgency.EMERGENCY, Urgency.URGENT, Urgency.ROUTINE)

OUT_OF_ORDER_MESSAGE = N_(
    "%(urgency)s may not be shorter than %(other)s (%(minutes)s minutes): "
    "the more urgent a case, the sooner it is answered."
)
ENDED_MESSAGE = N_("This agreement has ended; its response targets can no longer be changed.")
NOT_AN_EDITOR_MESSAGE = N_(
    "Only the parties' offices and the commission may change this agreement's response targets."
)

Minutes = Annotated[
    int | None,
    Field(
        default=None,
        ge=MIN_MINUTES,
        le=MAX_MINUTES,
        description=f"minutes ({MIN_MINUTES} to {MAX_MINUTES}); null for the platform default",
    ),
]


class TargetsIn(BaseModel):
    """The agreement's own target per urgency; null (or left out) means the platform default."""

    model_config = ConfigDict(extra="forbid")

    emergency: Minutes = None
    urgent: Minutes = None
    routine: Minutes = None

    def of(self, urgency: Urgency) -> int | None:
        value: int | None = getattr(self, urgency.value)
        return value


class TargetRead(BaseModel):
    urgency: Urgency
    minutes: int
    default_minutes: int
    own: bool = Field(description="true when the agreement sets it, false for the default")


class TargetsRead(BaseModel):
    agreement_id: int
    targets: list[TargetRead]
    may_edit: bool
    editable: bool = Field(description="false once the agreement has ended or was terminated")


@dataclass(frozen=True)
class Target:
    urgency: Urgency
    minutes: int
    default_minutes: int
    own: bool

    @property
    def label(self) -> str:
        return URGENCY_LABELS[self.urgency]


@dataclass(frozen=True)
class AgreementTargets:
    agreement: CooperationAgreement
    targets: list[Target]
    may_edit: bool  # the actor may change the agreement
    editable: bool  # the agreement still runs (or has not started yet)

    def read(self) -> TargetsRead:
        return TargetsRead(
            agreement_id=self.agreement.id,
            targets=[
                TargetRead(
                    urgency=t.urgency,
                    minutes=t.minutes,
                    default_minutes=t.default_minutes,
                    own=t.own,
                )
                for t in self.targets
            ],
            may_edit=self.may_edit,
            editable=self.editable,
        )


def defaults(settings: Settings) -> dict[Urgency, int]:
    return {
        Urgency.EMERGENCY: settings.consult_minutes_emergency,
        Urgency.URGENT: settings.consult_minutes_urgent,
        Urgency.ROUTINE: settings.consult_minutes_routine,
    }


def _own(session: Session, agreement_id: int) -> dict[Urgency, int]:
    known = {u.value for u in Urgency}
    return {
        Urgency(urgency): minutes
        for urgency, minutes in session.execute(
            select(ConsultTarget.urgency, ConsultTarget.minutes).where(
                ConsultTarget.agreement_id == agreement_id
            )
        )
        if urgency in known
    }


def _view(
    session: Session, actor: Actor, settings: Settings, view: agreements.AgreementView
) -> AgreementTargets:
    own = _own(session, view.agreement.id)
    base = defaults(settings)
    return AgreementTargets(
        agreement=view.agreement,
        targets=[Target(u, own.get(u, base[u]), base[u], u in own) for u in ORDER],
        may_edit=agreements.may_manage(actor, view.agreement),
        editable=view.status not in (AgreementStatus.ENDED, AgreementStatus.TERMINATED),
    )


def get_targets(
    session: Session, actor: Actor, settings: Settings, agreement_id: int
) -> AgreementTargets:
    """The three targets of an agreement the actor may read (else 404 as for the agreement)."""
    return _view(session, actor, settings, agreements.get_agreement(session, actor, agreement_id))


def order_errors(minutes: dict[Urgency, int], sent: set[Urgency]) -> list[FieldError]:
    """Emergency <= urgent <= routine; each break is blamed on a field the user set."""
    problems = []
    for shorter, longer in pairwise(ORDER):
        if minutes[shorter] > minutes[longer]:
            # the field to correct: the less urgent one if it was set, else the more urgent
            field, other = (longer, shorter) if longer in sent else (shorter, longer)
            problems.append(
                FieldError(
                    field.value,
                    OUT_OF_ORDER_MESSAGE,
                    {
                        "urgency": i18n.gettext(URGENCY_LABELS[field]),
                        "other": i18n.gettext(URGENCY_LABELS[other]),
                        "minutes": minutes[other],
                    },
                    code="targets_out_of_order",
                )
            )
    return problems


def set_targets(
    session: Session, actor: Actor, settings: Settings, agreement_id: int, data: TargetsIn
) -> AgreementTargets:
    """Replace the agreement's targets: a number sets one, null clears it back to the default.

    All or nothing; only those who may change the agreement, and only while it has not
    ended. Consultations already asked keep the target they were promised."""
    view = agreements.get_agreement(session, actor, agreement_id)
    if not agreements.may_manage(actor, view.agreement):
        raise Forbidden(NOT_AN_EDITOR_MESSAGE)
    if view.status in (AgreementStatus.ENDED, AgreementStatus.TERMINATED):
        raise Conflict(ENDED_MESSAGE, code="agreement_ended")
    # one writer at a time per agreement (the rows' unique key would refuse a second insert)
    session.execute(
        select(CooperationAgreement.id)
        .where(CooperationAgreement.id == agreement_id)
        .with_for_update()
    )
    wanted = {u: data.of(u) for u in ORDER}
    base = defaults(settings)
    effective = {u: (m if m is not None else base[u]) for u, m in wanted.items()}
    problems = order_errors(effective, {u for u, m in wanted.items() if m is not None})
    if problems:
        raise ValidationFailed(code="targets_out_of_order", field_errors=problems)
    before = _own(session, agreement_id)
    cleared = [u.value for u, m in wanted.items() if m is None and u in before]
    if cleared:
        session.execute(
            delete(ConsultTarget).where(
                ConsultTarget.agreement_id == agreement_id, ConsultTarget.urgency.in_(cleared)
            )
        )
    rows = {
        r.urgency: r
        for r in session.scalars(
            select(ConsultTarget).where(ConsultTarget.agreement_id == agreement_id)
        )
    }
    for u, m in wanted.items():
        if m is None:
            continue
        row = rows.get(u.value)
        if row is None:
            session.add(ConsultTarget(agreement_id=agreement_id, urgency=u.value, minutes=m))
        elif row.minutes != m:
            row.minutes = m
    session.flush()

    def shown(own: dict[Urgency, int]) -> dict[str, Any]:
        return {u.value: own.get(u) for u in ORDER}

    after = {u: m for u, m in wanted.items() if m is not None}
    audit.record(
        session,
        actor,
        AUDIT_ACTION,
        object_type="cooperation_agreement",
        object_id=agreement_id,
        detail={"before": shown(before), "after": shown(after)},
    )
    return _view(session, actor, settings, view)
