"""Referrals: drafting, submitting and every transition (API), and the family's status link."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import Request, Response, status
from sqlalchemy.orm import Session

from medcircle.auth.domain import Actor
from medcircle.referrals import service
from medcircle.referrals.domain import Side
from medcircle.referrals.models import Referral
from medcircle.referrals.schemas import (
    EventRead,
    FamilyStatusRead,
    PartyRead,
    ReferralCreate,
    ReferralRead,
    ReferralUpdate,
    StatusLinkRead,
    TransitionIn,
)
from medcircle.web.deps import DB, CurrentActor, settings_of, write_session_factory_of
from medcircle.web.routing import QuickRouter

router = QuickRouter(prefix="/api/v1", tags=["referrals"])

ONE = "/referrals/{referral_id:int}"


def referral_read(session: Session, actor: Actor, referral: Referral) -> ReferralRead:
    v = service.view_of(session, referral)
    return ReferralRead(
        **{
            name: getattr(referral, name)
            for name in ReferralRead.model_fields
            if hasattr(Referral, name) and name not in ("sides", "actions")
        },
        patient_name=v.patient.name,
        patient_national_id_masked=v.patient.national_id_masked,
        sender=PartyRead(
            institution_id=v.sender.id,
            institution_zh=v.sender.name_zh,
            institution_en=v.sender.name_en,
            department_id=v.sender_department.id if v.sender_department else None,
            department_zh=v.sender_department.name_zh if v.sender_department else None,
            department_en=v.sender_department.name_en if v.sender_department else None,
        ),
        receiver=PartyRead(
            institution_id=v.receiver.id,
            institution_zh=v.receiver.name_zh,
            institution_en=v.receiver.name_en,
            department_id=v.receiver_department.id,
            department_zh=v.receiver_department.name_zh,
            department_en=v.receiver_department.name_en,
        ),
        sides=sorted(service.sides(actor, referral), key=lambda s: list(Side).index(s)),
        actions=service.available_actions(actor, referral),
    )


@router.post("/referrals", response_model=ReferralRead, status_code=status.HTTP_201_CREATED)
def create_referral(
    body: ReferralCreate, request: Request, session: DB, actor: CurrentActor
) -> ReferralRead:
    """Draft (`submit: false`) or submit a referral from your institution. Refused with 422:
    `same_institution`, `unknown_department`, `unknown_patient`, `invalid_icd10`,
    `outside_network_reason_required`, `consent_missing`."""
    referral = service.create(session, actor, body, settings_of(request))
    return referral_read(session, actor, referral)


@router.get(ONE, response_model=ReferralRead)
def read_referral(referral_id: int, session: DB, actor: CurrentActor) -> ReferralRead:
    """One referral, for its sending and (once submitted) its receiving institution."""
    return referral_read(session, actor, service.get(session, actor, referral_id))


@router.patch(ONE, response_model=ReferralRead)
def update_referral(
    referral_id: int, body: ReferralUpdate, session: DB, actor: CurrentActor
) -> ReferralRead:
    """Change a draft; send the version you read (409 `stale` if it changed since)."""
    return referral_read(session, actor, service.update_draft(session, actor, referral_id, body))


@router.post(ONE + "/transitions", response_model=ReferralRead)
def make_transition(
    referral_id: int, body: TransitionIn, request: Request, session: DB, actor: CurrentActor
) -> ReferralRead:
    """One step of the loop (`actions` of the referral lists those you may take now).
    409 `transition_not_allowed` from the wrong state, 409 `stale` for an old version."""
    referral = service.transition(session, actor, referral_id, body, settings_of(request))
    return referral_read(session, actor, referral)


@router.get(ONE + "/history", response_model=list[EventRead])
def read_history(referral_id: int, session: DB, actor: CurrentActor) -> list[EventRead]:
    """Every step of the referral, oldest first."""
    referral = service.get(session, actor, referral_id)
    return [EventRead.model_validate(e) for e in service.history(session, actor, referral)]


@router.get(ONE + "/return-draft", response_model=ReferralCreate)
def read_return_draft(referral_id: int, session: DB, actor: CurrentActor) -> ReferralCreate:
    """The referral back down to the sender, prefilled (receiving side of an upward referral
    that arrived or was completed)."""
    return service.return_prefill(session, actor, referral_id)


@router.post(ONE + "/return", response_model=ReferralRead, status_code=status.HTTP_201_CREATED)
def create_return(
    referral_id: int, body: ReferralCreate, request: Request, session: DB, actor: CurrentActor
) -> ReferralRead:
    """Send the patient back down; the upward referral shows it in its history."""
    referral = service.create_return(session, actor, referral_id, body, settings_of(request))
    return referral_read(session, actor, referral)


@router.post(
    ONE + "/status-links", response_model=StatusLinkRead, status_code=status.HTTP_201_CREATED
)
def create_status_link(
    referral_id: int, request: Request, session: DB, actor: CurrentActor
) -> StatusLinkRead:
    """A link for the family (shown once): state, appointment and what to bring, nothing
    clinical. It expires after the configured number of days."""
    settings = settings_of(request)
    link, token = service.create_status_link(session, actor, referral_id, settings)
    return StatusLinkRead(
        id=link.id,
        referral_id=link.referral_id,
        token=token,
        url=service.status_url(settings, token),
        expires_at=link.expires_at,
    )


@router.delete(
    ONE + "/status-links/{link_id:int}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
)
def revoke_status_link(referral_id: int, link_id: int, session: DB, actor: CurrentActor) -> None:
    """End a status link before it expires."""
    service.revoke_status_link(session, actor, referral_id, link_id)


@router.get("/status/{token}", response_model=FamilyStatusRead, tags=["public"])
def read_family_status(token: str, request: Request) -> FamilyStatusRead:
    """The family's view (no login): 404 `status_link_invalid`, 410 `status_link_expired`."""
    found = service.open_status_link(write_session_factory_of(request), token)
    return FamilyStatusRead(**asdict(found))
