"""API of consultations: ask, act, the thread, the history, the referral it becomes, the
worklists and the pools one may ask. Errors are RFC 9457 problem+json with a stable ``code``."""

from __future__ import annotations

from fastapi import Depends, Request, Response, status
from pydantic import BaseModel, TypeAdapter
from sqlalchemy.orm import Session

from medcircle.auth.domain import Actor
from medcircle.consultations import queries, service
from medcircle.consultations.domain import Side
from medcircle.consultations.models import Consultation
from medcircle.consultations.queries import Worklist, WorklistRow
from medcircle.consultations.schemas import (
    ActIn,
    ConsultationCreate,
    ConsultationRead,
    EventRead,
    MessageIn,
    MessageRead,
    PartyRead,
    PersonRead,
)
from medcircle.kit import clock
from medcircle.kit.pagination import Page
from medcircle.referrals.router import referral_read
from medcircle.referrals.schemas import ReferralRead
from medcircle.web.deps import DB, CurrentActor, Paging, credentials_present, hot_read, settings_of
from medcircle.web.routing import QuickRouter

router = QuickRouter(prefix="/api/v1", tags=["consultations"])

ONE = "/consultations/{consultation_id:int}"
_WORKLIST_PAGE = TypeAdapter(Page[WorklistRow])


class AnswerOptionRead(BaseModel):
    """A pool you may ask, and who is on call there now (null: nobody; the coordinator
    gets the case)."""

    institution_id: int
    institution_zh: str
    institution_en: str
    specialty_code: str
    specialty_zh: str
    specialty_en: str
    agreement_id: int | None
    on_call_user_id: int | None
    on_call_name: str | None


def consultation_read(session: Session, actor: Actor, c: Consultation) -> ConsultationRead:
    v = service.view_of(session, actor, c, clock.now())
    names = service.people_of(
        session, {u for u in (c.asker_user_id, c.assignee_user_id) if u is not None}
    )
    return ConsultationRead(
        **{
            name: getattr(c, name)
            for name in ConsultationRead.model_fields
            if hasattr(Consultation, name) and name not in ("sides", "actions")
        },
        patient_name=v.patient_name,
        patient_national_id_masked=v.patient_national_id_masked,
        patient_age_years=v.patient_age_years,
        patient_sex=v.patient_sex,
        asker=PartyRead(
            institution_id=c.asker_institution_id,
            institution_zh=v.asker_institution_zh,
            institution_en=v.asker_institution_en,
        ),
        asker_user=PersonRead(
            user_id=c.asker_user_id,
            display_name=names.get(c.asker_user_id, ""),
            institution_id=c.asker_institution_id,
        ),
        answerer=PartyRead(
            institution_id=c.answer_institution_id,
            institution_zh=v.answer_institution_zh,
            institution_en=v.answer_institution_en,
        ),
        other_specialties=v.other_specialties,
        assignee=(
            PersonRead(
                user_id=c.assignee_user_id,
                display_name=names.get(c.assignee_user_id, ""),
                institution_id=c.answer_institution_id,
            )
            if c.assignee_user_id is not None
            else None
        ),
        paused=c.paused_since is not None,
        minutes_left=v.minutes_left,
        teaching_case_id=v.teaching_case_id,
        turn=v.turn,
        sides=sorted(v.sides, key=lambda s: list(Side).index(s)),
        actions=v.actions,
    )


@router.post("/consultations", response_model=ConsultationRead, status_code=status.HTTP_201_CREATED)
def ask(
    body: ConsultationCreate, request: Request, session: DB, actor: CurrentActor
) -> ConsultationRead:
    """Ask a consultation about a patient of your institution. It goes to who is on call in
    the pool at once; with nobody on call it waits in the pool and the coordinator is told.
    Refused with 422: `unknown_patient`, `patient_merged`, `same_institution`,
    `invalid_icd10`, `mdt_only` (further specialties need mode `mdt`), `not_a_pool` (see
    `GET /api/v1/consultation-pools`), `consent_missing`."""
    c = service.ask(session, actor, body, settings_of(request))
    return consultation_read(session, actor, c)


@router.get("/consultation-pools", response_model=list[AnswerOptionRead])
def answer_options(session: DB, actor: CurrentActor) -> list[AnswerOptionRead]:
    """The pools your institution may ask (supporting institutions under agreements in
    force, and the leads of your alliances) with who is on call in each now."""
    return [
        AnswerOptionRead(**o.__dict__) for o in service.answer_options(session, actor, clock.now())
    ]


@router.get("/consultations/worklists", response_model=dict[Worklist, int])
def worklist_counts(session: DB, actor: CurrentActor) -> dict[Worklist, int]:
    """How many cases each worklist you may read holds."""
    return queries.counts(session, actor)


@router.get(
    "/consultations/worklists/{name}",
    response_model=Page[WorklistRow],
    dependencies=[Depends(credentials_present)],
)
async def read_worklist(request: Request, name: Worklist, paging: Paging) -> Response:
    """A worklist: `mine` (the cases you hold, least time left first, then those waiting for
    the asker), `pool` (cases nobody holds in the pools you may claim from; coordinators: all
    pools of their institution; most urgent first), `asked` (asked by your institution, most
    recently changed first), `at_risk` (coordinators: escalated or close to their promised
    time). Patient names are masked for readers without access to patients. Each read is
    audited."""
    page = await hot_read(
        request, lambda session, actor: queries.worklist(session, actor, name, paging)
    )
    return Response(content=_WORKLIST_PAGE.dump_json(page), media_type="application/json")


@router.get(ONE, response_model=ConsultationRead)
def read_consultation(consultation_id: int, session: DB, actor: CurrentActor) -> ConsultationRead:
    """One consultation, for the asking and the answering institution (404 for others).
    `turn` says whose turn it is; `actions` the transitions you may make now."""
    return consultation_read(session, actor, service.get(session, actor, consultation_id))


@router.post(ONE + "/actions", response_model=ConsultationRead)
def act(
    consultation_id: int, body: ActIn, request: Request, session: DB, actor: CurrentActor
) -> ConsultationRead:
    """One transition: `claim`, `assign` (`assignee_user_id`), `release` (`reason`),
    `redirect` (`specialty_code`, `reason`), `ask_asker` (`body`), `reply` (`body`),
    `answer` (`assessment`, `recommendations`, `needs_visit`, `follow_up`), `follow_up`
    (`body`), `close` (`helpful` 1–5, `referral_avoided`), `cancel` (`reason`). Send the
    version you read. 409: `stale`, `already_claimed`, `transition_not_allowed`; 403
    `not_your_part`; 422: `required` (each missing field), `not_a_pool_expert`,
    `not_a_pool`, `same_specialty`."""
    c = service.act(session, actor, consultation_id, body, settings_of(request))
    return consultation_read(session, actor, c)


@router.get(ONE + "/messages", response_model=list[MessageRead])
def read_messages(consultation_id: int, session: DB, actor: CurrentActor) -> list[MessageRead]:
    """The thread of the case (questions, replies, follow-ups, notes), oldest first."""
    c = service.get(session, actor, consultation_id)
    return [MessageRead.model_validate(m) for m in service.thread(session, actor, c)]


@router.post(ONE + "/messages", response_model=MessageRead, status_code=status.HTTP_201_CREATED)
def add_message(
    consultation_id: int, body: MessageIn, session: DB, actor: CurrentActor
) -> MessageRead:
    """A note in the thread by either side; it does not change whose turn it is. 409
    `case_closed` once the case is closed or cancelled."""
    return MessageRead.model_validate(service.add_message(session, actor, consultation_id, body))


@router.get(ONE + "/events", response_model=list[EventRead])
def read_events(consultation_id: int, session: DB, actor: CurrentActor) -> list[EventRead]:
    """Every step of the case (asked, routed, claimed, escalated …), oldest first."""
    c = service.get(session, actor, consultation_id)
    return [EventRead.model_validate(e) for e in service.history(session, actor, c)]


@router.post(ONE + "/referral", response_model=ReferralRead, status_code=status.HTTP_201_CREATED)
def to_referral(
    consultation_id: int, request: Request, session: DB, actor: CurrentActor
) -> ReferralRead:
    """Turn an answered case whose opinion says the patient needs to be seen into an upward
    referral draft, prefilled from the case (asking side; once). 409: `already_referred`,
    `no_visit_needed`, `no_department`."""
    referral = service.to_referral(session, actor, consultation_id, settings_of(request))
    return referral_read(session, actor, referral)
