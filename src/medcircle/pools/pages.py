"""Pages of pooled scarce resources: the pools of one's institution, a pool (its units live,
the waitlist in the policy's order with places and estimated admission ranges, the recent
decisions, pooled against separate lists), listing a patient, an entry (readiness, offers,
closing, the family's status links), why a unit went to whom, the overrides report, and the
family's status page (no login, no names, no clinical detail).

Every read and write goes through ``pools.service`` and ``pools.queries`` (access, masking,
audit, the pool's lock); the pages turn their refusals into messages by the field.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.audit.service import safe_cells
from medcircle.auth.domain import Actor, Permission
from medcircle.auth.repository import display_names
from medcircle.kit import clock, i18n
from medcircle.kit.errors import DomainError, Forbidden
from medcircle.kit.i18n import N_, gettext
from medcircle.kit.pagination import PageParams
from medcircle.patients import service as patients
from medcircle.patients.models import Patient
from medcircle.pools import queries, service
from medcircle.pools.forecast import ForecastMethod, PoolingComparison, StayBasis
from medcircle.pools.measures import Month
from medcircle.pools.models import AllocationDecision, ResourcePool, ResourceUnit
from medcircle.pools.policy import (
    PASSED_OVER_LABELS,
    POLICY_LIMITS,
    RULE_LABELS,
    URGENCY_LABELS,
    URGENCY_RANK,
    PassedOver,
    Rule,
    Urgency,
    policy_from,
    policy_problems,
)
from medcircle.pools.schemas import (
    ENTRY_STATUS_LABELS,
    OFFER_STATUS_LABELS,
    POOL_KIND_LABELS,
    TRANSPLANT_LABELS,
    TRIGGER_LABELS,
    UNIT_STATUS_LABELS,
    DischargeIn,
    EntryClose,
    EntryCreate,
    EntryStatus,
    EntryUpdate,
    OfferAccept,
    OfferDecline,
    OverrideIn,
    PolicyIn,
    PolicyUpdate,
    TransplantType,
    UnitStatus,
    UnitStatusIn,
)
from medcircle.referrals import icd10
from medcircle.web import forms
from medcircle.web.deps import DB, PageActor, settings_of, write_session_factory_of
from medcircle.web.forms import REQUIRED, Errors, Form, FormValues, build, form_date, form_int
from medcircle.web.routing import QuickRouter
from medcircle.web.templating import localised, render

router = QuickRouter()

MAX_ID = 2**31 - 1
PICKER_PATIENTS = PageParams(1, 50)
OVERRIDE_MIN = 10
# months of occupancy and waits on the pool page
MONTHS_SHOWN = 12

CHOOSE_PATIENT = N_("Choose the patient.")
CHOOSE_UNIT = N_("Choose a free unit.")
CHOOSE_ENTRY = N_("Choose a waiting patient.")
WRITE_REASON = N_("Write the reason: at least %(count)s characters.")
IN_RANGE = N_("Enter a whole number from %(low)s to %(high)s.")
NOT_DONE = N_("The action was not carried out.")

DONE: dict[str, str] = {
    "unit": N_("The unit's status is saved."),
    "freed": N_("The unit is free: it went to the next eligible patient, if any (see below)."),
    "discharged": N_("The discharge is recorded."),
    "allocated": N_("Allocation ran: %(count)s decisions."),
    "policy": N_("The policy is saved; it applies from the next decision."),
    "listed": N_("The patient is on the waitlist."),
    "updated": N_("The entry is saved."),
    "closed": N_("The entry is closed."),
    "accepted": N_("The offer is accepted: the patient is admitted."),
    "declined": N_("The offer is declined; the patient keeps their place."),
    "revoked": N_("The status link is revoked."),
    "override": N_("The unit is offered to the patient you chose; the reason is kept."),
}
LINK_MADE = N_("The status link is made. Copy it now: it is shown only this once.")

# the family's words for an entry's status
FAMILY_LABELS: dict[str, str] = {
    EntryStatus.WAITING.value: N_("Waiting for a room"),
    EntryStatus.OFFERED.value: N_("A room is offered"),
    EntryStatus.ADMITTED.value: N_("Admitted"),
    EntryStatus.WITHDRAWN.value: N_("No longer on the list"),
    EntryStatus.REMOVED.value: N_("No longer on the list"),
}
FAMILY_TEXT: dict[str, str] = {
    EntryStatus.WAITING.value: N_(
        "The patient is on the waiting list the hospitals share. Rooms go to the most urgent "
        "first, then to those waiting longest."
    ),
    EntryStatus.OFFERED.value: N_(
        "A room has been offered to the patient. The hospital's team will contact you about "
        "the admission."
    ),
    EntryStatus.ADMITTED.value: N_("The patient has been admitted."),
    EntryStatus.WITHDRAWN.value: N_(
        "The patient is no longer on this waiting list. Ask the hospital's team why."
    ),
    EntryStatus.REMOVED.value: N_(
        "The patient is no longer on this waiting list. Ask the hospital's team why."
    ),
}
INVALID_TITLE = N_("This status link does not work")

# statuses a keeper sets by hand (occupied comes with an admission, retired with the lead)
HAND_STATUSES = (UnitStatus.CLEANING, UnitStatus.MAINTENANCE)
AFTER_DISCHARGE = (UnitStatus.CLEANING, UnitStatus.FREE, UnitStatus.MAINTENANCE)
CLOSE_STATUSES = {
    EntryStatus.WITHDRAWN: N_("Withdrawn (the patient's side)"),
    EntryStatus.REMOVED: N_("Removed (no longer eligible)"),
}
POLICY_LABELS: dict[str, str] = {
    "offer_hours": N_("Hours to answer an offer"),
    "aging_days": N_("Days of waiting per urgency step gained"),
    "turnaround_days": N_("Turnaround between patients (days)"),
    "default_stay_days": N_("Assumed stay until the pool has its own (days)"),
}
RANK_LABELS: dict[int, str] = {URGENCY_RANK[u]: URGENCY_LABELS[u] for u in Urgency}

LABELS: dict[str, Any] = {
    "unit_labels": UNIT_STATUS_LABELS,
    "entry_labels": ENTRY_STATUS_LABELS,
    "offer_labels": OFFER_STATUS_LABELS,
    "urgency_labels": URGENCY_LABELS,
    "rank_labels": RANK_LABELS,
    "transplant_labels": TRANSPLANT_LABELS,
    "trigger_labels": TRIGGER_LABELS,
    "rule_labels": RULE_LABELS,
    "passed_labels": PASSED_OVER_LABELS,
    "policy_labels": POLICY_LABELS,
    "kind_labels": POOL_KIND_LABELS,
    "close_labels": CLOSE_STATUSES,
}


def _label(table: dict[Any, str], key: str) -> str:
    """A label from a domain table keyed by enum members or their values."""
    for k, v in table.items():
        if str(k) == key or getattr(k, "value", None) == key:
            return v
    return key


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _require_read(actor: Actor) -> None:
    if not actor.can(Permission.POOL_READ):
        raise Forbidden()


def _version(form: FormValues) -> int:
    raw = form.get("version")
    return int(raw) if raw.isdecimal() and int(raw) <= MAX_ID else 0


def _id(form: FormValues, name: str, errors: Errors, message: str) -> int | None:
    raw = form.get(name)
    if not raw:
        errors.add(name, message)
        return None
    if not raw.isdecimal() or not 0 < int(raw) <= MAX_ID:
        errors.add(name, forms.CHECK_VALUE)
        return None
    return int(raw)


def _ids(form: FormValues, name: str) -> list[int]:
    return [int(v) for v in form.getlist(name) if v.isdecimal() and 0 < int(v) <= MAX_ID]


def _done(request: Request) -> str | None:
    key = request.query_params.get("done") or ""
    if key not in DONE:
        return None
    count = request.query_params.get("n") or "0"
    return gettext(DONE[key], count=count if count.isdecimal() else "0")


def pool_nav(pool: ResourcePool, actor: Actor, session: Session) -> dict[str, Any]:
    """What the pools sub-navigation shows for the pool being read."""
    return {
        "id": pool.id,
        "name": localised(pool),
        "may_list": actor.can(Permission.POOL_LIST)
        and actor.institution_id in service.member_ids(session, pool.id),
    }


# --- the pools of one's institution -------------------------------------------------------


@router.get("/pools")
def pools_page(request: Request, session: DB, actor: PageActor) -> Response:
    _require_read(actor)
    rows = [(p, service.counts(session, p.id)) for p in service.list_pools(session, actor)]
    return render(request, "pools/list.html", {"rows": rows, **LABELS})


# --- a pool --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    # shown instead of the value (e.g. "grows without limit")
    note: str = ""
    tone: str = ""


def _comparison_bars(c: PoolingComparison, names: dict[int, str]) -> list[Bar]:
    """Mean wait of the pool and of each hospital on its own list; an unbounded list is
    drawn as the longest bar with a note instead of a number."""
    finite = [s.queue.mean_wait_days for s in c.sites if s.queue.mean_wait_days is not None]
    if c.pooled.mean_wait_days is not None:
        finite.append(c.pooled.mean_wait_days)
    top = max(finite, default=0.0)
    unbounded = gettext(N_("grows without limit"))
    # an unbounded list is drawn longer than every finite one
    endless = top * 1.2 or 1.0
    pooled = c.pooled.mean_wait_days
    bars = [
        Bar(
            gettext(N_("One pool")),
            round(pooled if pooled is not None else endless, 1),
            "" if pooled is not None else unbounded,
            "pool",
        )
    ]
    for s in c.sites:
        name = names.get(int(s.key), s.key) if s.key.isdecimal() else s.key
        wait = s.queue.mean_wait_days
        bars.append(
            Bar(
                name,
                round(wait if wait is not None else endless, 1),
                "" if wait is not None else unbounded,
                "bad" if wait is None else "",
            )
        )
    return bars


def _monthly_bars(months: list[Month]) -> tuple[list[Bar], list[Bar]]:
    """Occupancy (per cent) and the median wait of the month's admissions, month by month."""
    occupancy = [
        Bar(m.first_day.strftime("%Y-%m"), round((m.occupancy or 0.0) * 100), "", "")
        for m in months
    ]
    waits = [
        Bar(
            m.first_day.strftime("%Y-%m"),
            round(m.median_wait_days or 0.0, 1),
            "" if m.median_wait_days is not None else "—",
            "pool",
        )
        for m in months
    ]
    return occupancy, waits


def _override_choices(
    view: queries.PoolView,
) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    units = [
        (
            r.unit.id,
            f"{r.unit.name} · {r.institution} · {r.unit.room_class}"
            + (f" · {gettext(N_('offered'))}" if r.open_offer else ""),
        )
        for r in view.units
        if r.unit.status == UnitStatus.FREE.value
    ]
    entries = [
        (
            r.entry.id,
            f"#{r.entry.id} · {r.patient_name} · {r.entry.room_class} · "
            f"{gettext(_label(URGENCY_LABELS, r.entry.urgency))}",
        )
        for r in view.entries
        if r.entry.status == EntryStatus.WAITING.value
    ]
    return units, entries


def _pool_page(
    request: Request,
    session: Session,
    actor: Actor,
    pool_id: int,
    *,
    failed: str = "",
    errors: Errors | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    view = queries.pool_view(session, actor, pool_id)
    pool = view.pool
    names = dict(view.members)
    for r in view.units:
        names.setdefault(r.unit.institution_id, r.institution)
    classes: dict[str, list[queries.UnitRow]] = {}
    for r in view.units:
        classes.setdefault(r.unit.room_class, []).append(r)
    units_by_id = {r.unit.id: r.unit for r in view.units}
    charts = {
        f.room_class: _comparison_bars(f.comparison, names) for f in view.figures if f.comparison
    }
    monthly = {
        room_class: _monthly_bars(months)
        for room_class, months in queries.monthly_figures(
            session, actor, pool_id, months=MONTHS_SHOWN
        ).items()
    }
    settings = policy_from(pool.policy)
    override_units, override_entries = _override_choices(view) if view.leads else ([], [])
    return render(
        request,
        "pools/pool.html",
        {
            "v": view,
            "pool": pool,
            "names": names,
            "classes": classes,
            "units_by_id": units_by_id,
            "charts": charts,
            "monthly": monthly,
            "policy": settings.as_json(),
            "limits": POLICY_LIMITS,
            "override_units": override_units,
            "override_entries": override_entries,
            "hand_statuses": [(s.value, gettext(UNIT_STATUS_LABELS[s])) for s in HAND_STATUSES],
            "after_discharge": [(s.value, gettext(UNIT_STATUS_LABELS[s])) for s in AFTER_DISCHARGE],
            "failed": failed,
            "errors": errors or Errors(),
            "values": values or {},
            "done": _done(request),
            "today": view.today,
            "pool_nav": pool_nav(pool, actor, session),
            **LABELS,
        },
        status_code=status_code,
    )


@router.get("/pools/{pool_id:int}")
def pool_page(request: Request, session: DB, actor: PageActor, pool_id: int) -> Response:
    _require_read(actor)
    return _pool_page(request, session, actor, pool_id)


def _pool_refused(
    request: Request,
    session: Session,
    actor: Actor,
    pool_id: int,
    failed: str,
    exc: DomainError | None,
    errors: Errors,
    values: dict[str, Any],
) -> Response:
    status_code = forms.refusal_status(session, exc, errors) if exc is not None else 422
    return _pool_page(
        request,
        session,
        actor,
        pool_id,
        failed=failed,
        errors=errors,
        values=values,
        status_code=status_code,
    )


@router.post("/pools/{pool_id:int}/units/{unit_id:int}/status")
def unit_status_submit(
    request: Request, session: DB, actor: PageActor, pool_id: int, unit_id: int, form: Form
) -> Response:
    _require_read(actor)
    errors = Errors()
    status = form.get("status")
    if status not in (UnitStatus.FREE.value, *(s.value for s in HAND_STATUSES)):
        errors.add("status", forms.CHECK_VALUE)
    day = form_date(form, "expected_free_on", errors)
    values = {
        "status": status,
        "expected_free_on": form.get("expected_free_on"),
        "note": form.get("note"),
    }
    failed = f"unit-{unit_id}"
    exc: DomainError | None = None
    if not errors:
        data = build(
            UnitStatusIn,
            {
                "version": _version(form),
                "status": status,
                "expected_free_on": day if status != UnitStatus.FREE.value else None,
                "note": form.get("note") or None,
            },
            errors,
        )
        if data is not None:
            try:
                unit = service.set_unit_status(session, actor, unit_id, data)
            except DomainError as e:
                exc = e
            else:
                done = "freed" if data.status == UnitStatus.FREE else "unit"
                return _redirect(f"/pools/{unit.pool_id}?done={done}#units")
    return _pool_refused(request, session, actor, pool_id, failed, exc, errors, values)


@router.post("/pools/{pool_id:int}/units/{unit_id:int}/discharge")
def discharge_submit(
    request: Request, session: DB, actor: PageActor, pool_id: int, unit_id: int, form: Form
) -> Response:
    _require_read(actor)
    errors = Errors()
    day = form_date(form, "discharged_on", errors)
    free_on = form_date(form, "expected_free_on", errors)
    then = form.get("then") or UnitStatus.CLEANING.value
    if then not in {s.value for s in AFTER_DISCHARGE}:
        errors.add("then", forms.CHECK_VALUE)
    values = {
        "discharged_on": form.get("discharged_on"),
        "then": then,
        "expected_free_on": form.get("expected_free_on"),
        "note": form.get("note"),
    }
    failed = f"discharge-{unit_id}"
    exc: DomainError | None = None
    if not errors:
        data = build(
            DischargeIn,
            {
                "discharged_on": day,
                "then": then,
                "expected_free_on": free_on,
                "note": form.get("note") or None,
            },
            errors,
        )
        if data is not None:
            try:
                admission = service.discharge(session, actor, unit_id, data)
            except DomainError as e:
                exc = e
            else:
                return _redirect(f"/pools/{admission.pool_id}?done=discharged#units")
    return _pool_refused(request, session, actor, pool_id, failed, exc, errors, values)


@router.post("/pools/{pool_id:int}/allocate")
def allocate_submit(
    request: Request, session: DB, actor: PageActor, pool_id: int, form: Form
) -> Response:
    _require_read(actor)
    try:
        made = service.run_allocation(session, actor, pool_id)
    except DomainError as exc:
        return _pool_refused(request, session, actor, pool_id, "allocate", exc, Errors(), {})
    return _redirect(f"/pools/{pool_id}?done=allocated&n={len(made)}#decisions")


@router.post("/pools/{pool_id:int}/policy")
def policy_submit(
    request: Request, session: DB, actor: PageActor, pool_id: int, form: Form
) -> Response:
    _require_read(actor)
    errors = Errors()
    numbers: dict[str, int] = {}
    for name in POLICY_LIMITS:
        found = form_int(form, name, errors, required=True)
        if found is not None:
            numbers[name] = found
    for name, (low, high) in policy_problems(numbers).items():
        errors.add(name, IN_RANGE, low=low, high=high)
    values = {name: form.get(name) for name in POLICY_LIMITS}
    exc: DomainError | None = None
    if not errors:
        try:
            service.update_policy(
                session,
                actor,
                pool_id,
                PolicyUpdate(version=_version(form), policy=PolicyIn(**numbers)),
            )
        except DomainError as e:
            exc = e
        else:
            return _redirect(f"/pools/{pool_id}?done=policy#policy")
    return _pool_refused(request, session, actor, pool_id, "policy", exc, errors, values)


class OverrideErrors(Errors):
    field_names = {"unit_id": "unit_id", "entry_id": "entry_id"}


@router.post("/pools/{pool_id:int}/override")
def override_submit(
    request: Request, session: DB, actor: PageActor, pool_id: int, form: Form
) -> Response:
    _require_read(actor)
    errors = OverrideErrors()
    unit_id = _id(form, "unit_id", errors, CHOOSE_UNIT)
    entry_id = _id(form, "entry_id", errors, CHOOSE_ENTRY)
    reason = form.get("reason")
    if len(reason) < OVERRIDE_MIN:
        errors.add("reason", WRITE_REASON, count=OVERRIDE_MIN)
    values = {"unit_id": form.get("unit_id"), "entry_id": form.get("entry_id"), "reason": reason}
    exc: DomainError | None = None
    if not errors:
        data = build(
            OverrideIn, {"unit_id": unit_id, "entry_id": entry_id, "reason": reason}, errors
        )
        if data is not None:
            try:
                row = service.override(session, actor, pool_id, data)
            except DomainError as e:
                exc = e
            else:
                return _redirect(f"/pools/decisions/{row.id}?done=override")
    return _pool_refused(request, session, actor, pool_id, "override", exc, errors, values)


# --- listing a patient ----------------------------------------------------------------------


class ListErrors(Errors):
    field_names = {"acceptable_institution_ids": "sites"}


def _patient_choices(
    session: Session, actor: Actor, request: Request, q: str | None = None
) -> list[Patient]:
    if not actor.can(Permission.PATIENT_READ):
        return []
    rows, _ = patients.list_patients(
        session, actor, patients.Search(q=q or None), PICKER_PATIENTS, settings_of(request)
    )
    return list(rows)


def _list_form(
    request: Request,
    session: Session,
    actor: Actor,
    pool_id: int,
    *,
    values: dict[str, Any],
    errors: Errors | None = None,
    consent_missing: int | None = None,
    status_code: int = 200,
) -> Response:
    pool = service.get_pool(session, actor, pool_id)
    if not actor.can(Permission.POOL_LIST) or actor.institution_id not in service.member_ids(
        session, pool.id
    ):
        raise Forbidden()
    classes = service.classes_of(session, pool.id)
    names = queries.institution_names(session, {i for ids in classes.values() for i in ids})
    patient: Patient | None = None
    chosen = values.get("patient_id")
    if isinstance(chosen, int):
        found = session.get(Patient, chosen)
        if found is not None and found.institution_id == actor.institution_id:
            patient = found
    return render(
        request,
        "pools/list_form.html",
        {
            "pool": pool,
            "v": values,
            "errors": errors or ListErrors(),
            "patient": patient,
            "patients": _patient_choices(session, actor, request),
            "classes": sorted(classes),
            "sites": sorted(
                (
                    (i, names.get(i, str(i)), sorted(c for c, ids in classes.items() if i in ids))
                    for i in {i for ids in classes.values() for i in ids}
                ),
                key=lambda s: s[1],
            ),
            "transplants": [(t.value, gettext(TRANSPLANT_LABELS[t])) for t in TransplantType],
            "urgencies": [(u.value, gettext(URGENCY_LABELS[u])) for u in Urgency],
            "consent_missing": consent_missing,
            "pool_nav": pool_nav(pool, actor, session),
        },
        status_code=status_code,
    )


@router.get("/pools/{pool_id:int}/waitlist/new")
def list_page(request: Request, session: DB, actor: PageActor, pool_id: int) -> Response:
    _require_read(actor)
    raw = request.query_params.get("patient_id", "")
    values: dict[str, Any] = {
        "patient_id": int(raw) if raw.isdecimal() and int(raw) <= MAX_ID else None,
        "urgency": Urgency.ROUTINE.value,
        "transplant_type": "",
        "room_class": "",
        "sites": [],
    }
    return _list_form(request, session, actor, pool_id, values=values)


@router.post("/pools/{pool_id:int}/waitlist/new")
def list_submit(
    request: Request, session: DB, actor: PageActor, pool_id: int, form: Form
) -> Response:
    _require_read(actor)
    errors = ListErrors()
    patient_id = _id(form, "patient_id", errors, CHOOSE_PATIENT)
    values: dict[str, Any] = {
        "patient_id": patient_id,
        "icd10_code": form.get("icd10_code"),
        "transplant_type": form.get("transplant_type"),
        "room_class": form.get("room_class"),
        "urgency": form.get("urgency") or Urgency.ROUTINE.value,
        "donor_found": bool(form.get("donor_found")),
        "workup_done": bool(form.get("workup_done")),
        "sites": _ids(form, "sites"),
        "note": form.get("note"),
    }
    for name in ("icd10_code", "transplant_type", "room_class"):
        if not values[name]:
            errors.add(name, REQUIRED)
    status_code = 422
    consent_missing: int | None = None
    if not errors:
        data = build(
            EntryCreate,
            {
                "patient_id": patient_id,
                "icd10_code": values["icd10_code"],
                "transplant_type": values["transplant_type"],
                "room_class": values["room_class"],
                "urgency": values["urgency"],
                "donor_found": values["donor_found"],
                "workup_done": values["workup_done"],
                "acceptable_institution_ids": values["sites"],
                "note": values["note"] or None,
            },
            errors,
        )
        if data is not None:
            try:
                entry = service.list_patient(session, actor, pool_id, data)
            except DomainError as exc:
                status_code = forms.refusal_status(session, exc, errors)
                if exc.code == "already_listed":
                    # the conflict is the patient's: say it by the patient field
                    errors.pop("_form", None)
                    errors.setdefault("patient_id", []).append(exc.text())
                if exc.code == "consent_missing":
                    consent_missing = data.patient_id
            else:
                return _redirect(f"/pools/entries/{entry.id}?done=listed")
    return _list_form(
        request,
        session,
        actor,
        pool_id,
        values=values,
        errors=errors,
        consent_missing=consent_missing,
        status_code=status_code,
    )


@router.get("/pools/patients")
def patient_options(request: Request, session: DB, actor: PageActor) -> Response:
    """The patient picker's options for a search by name or ID number (an HTMX partial)."""
    if not actor.can(Permission.POOL_LIST):
        raise Forbidden()
    q = request.query_params.get("patient_q", "").strip()[:64]
    return render(
        request,
        "pools/_patient_options.html",
        {
            "patients": _patient_choices(session, actor, request, q),
            "selected": request.query_params.get("patient_id", ""),
        },
    )


@router.get("/pools/icd10")
def icd10_lookup(request: Request, session: DB, actor: PageActor) -> Response:
    """The ICD-10 look-up under the listing form's code field (an HTMX partial)."""
    if not actor.can(Permission.POOL_LIST):
        raise Forbidden()
    q = (request.query_params.get("icd10_code") or "").strip()
    results = icd10.search(q[:60], limit=12) if len(q) >= 2 else []
    return render(request, "referrals/_icd10_results.html", {"results": results, "q": q})


# --- an entry ---------------------------------------------------------------------------------


def _entry_page(
    request: Request,
    session: Session,
    actor: Actor,
    entry_id: int,
    *,
    failed: str = "",
    errors: Errors | None = None,
    values: dict[str, Any] | None = None,
    new_link: tuple[str, Any] | None = None,
    flash: str | None = None,
    flash_kind: str = "ok",
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    view = queries.entry_view(session, actor, entry_id)
    entry = view.row.entry
    classes = service.classes_of(session, view.pool.id)
    sites = sorted(
        ((i, view.institutions.get(i, str(i))) for i in classes.get(entry.room_class, set())),
        key=lambda s: s[1],
    )
    may_close = entry.status in (EntryStatus.WAITING.value, EntryStatus.OFFERED.value) and (
        view.on_team or service.leads(actor, view.pool)
    )
    now = clock.now()
    return render(
        request,
        "pools/entry.html",
        {
            "v": view,
            "e": entry,
            "row": view.row,
            "pool": view.pool,
            "sites": sites,
            "live": entry.status in (EntryStatus.WAITING.value, EntryStatus.OFFERED.value),
            "may_close": may_close,
            "failed": failed,
            "errors": errors or Errors(),
            "values": values or {},
            "new_link": new_link,
            "done": flash or _done(request),
            "flash_kind": flash_kind,
            "now": now,
            "today": service.today_of(now),
            "urgencies": [(u.value, gettext(URGENCY_LABELS[u])) for u in Urgency],
            "close_choices": [(s.value, gettext(t)) for s, t in CLOSE_STATUSES.items()],
            "method_exact": ForecastMethod.EXACT.value,
            "stays_observed": StayBasis.OBSERVED.value,
            "pool_nav": pool_nav(view.pool, actor, session),
            **LABELS,
        },
        status_code=status_code,
        headers=headers,
    )


@router.get("/pools/entries/{entry_id:int}")
def entry_page(request: Request, session: DB, actor: PageActor, entry_id: int) -> Response:
    _require_read(actor)
    return _entry_page(request, session, actor, entry_id)


def _entry_refused(
    request: Request,
    session: Session,
    actor: Actor,
    entry_id: int,
    failed: str,
    exc: DomainError | None,
    errors: Errors,
    values: dict[str, Any],
) -> Response:
    status_code = forms.refusal_status(session, exc, errors) if exc is not None else 422
    return _entry_page(
        request,
        session,
        actor,
        entry_id,
        failed=failed,
        errors=errors,
        values=values,
        flash=gettext(NOT_DONE),
        flash_kind="error",
        status_code=status_code,
    )


class EntryErrors(Errors):
    field_names = {"acceptable_institution_ids": "sites"}


@router.post("/pools/entries/{entry_id:int}/update")
def entry_update_submit(
    request: Request, session: DB, actor: PageActor, entry_id: int, form: Form
) -> Response:
    _require_read(actor)
    errors = EntryErrors()
    values: dict[str, Any] = {
        "urgency": form.get("urgency"),
        "donor_found": bool(form.get("donor_found")),
        "workup_done": bool(form.get("workup_done")),
        "sites": _ids(form, "sites"),
        "note": form.get("note"),
    }
    exc: DomainError | None = None
    data = build(
        EntryUpdate,
        {
            "version": _version(form),
            "urgency": values["urgency"] or None,
            "donor_found": values["donor_found"],
            "workup_done": values["workup_done"],
            "acceptable_institution_ids": values["sites"],
            "note": values["note"],
        },
        errors,
    )
    if data is not None:
        try:
            service.update_entry(session, actor, entry_id, data)
        except DomainError as e:
            exc = e
        else:
            return _redirect(f"/pools/entries/{entry_id}?done=updated")
    return _entry_refused(request, session, actor, entry_id, "update", exc, errors, values)


@router.post("/pools/entries/{entry_id:int}/close")
def entry_close_submit(
    request: Request, session: DB, actor: PageActor, entry_id: int, form: Form
) -> Response:
    _require_read(actor)
    errors = Errors()
    status = form.get("status")
    reason = form.get("reason")
    if status not in {s.value for s in CLOSE_STATUSES}:
        errors.add("status", forms.CHECK_VALUE)
    if not reason:
        errors.add("reason", REQUIRED)
    values = {"status": status, "reason": reason}
    exc: DomainError | None = None
    if not errors:
        data = build(
            EntryClose, {"version": _version(form), "status": status, "reason": reason}, errors
        )
        if data is not None:
            try:
                service.close_entry(session, actor, entry_id, data)
            except DomainError as e:
                exc = e
            else:
                return _redirect(f"/pools/entries/{entry_id}?done=closed")
    return _entry_refused(request, session, actor, entry_id, "close", exc, errors, values)


@router.post("/pools/entries/{entry_id:int}/offers/{offer_id:int}/accept")
def accept_submit(
    request: Request, session: DB, actor: PageActor, entry_id: int, offer_id: int, form: Form
) -> Response:
    _require_read(actor)
    errors = Errors()
    admitted_on = form_date(form, "admitted_on", errors)
    discharge_on = form_date(form, "expected_discharge_on", errors)
    values = {
        "admitted_on": form.get("admitted_on"),
        "expected_discharge_on": form.get("expected_discharge_on"),
    }
    exc: DomainError | None = None
    if not errors:
        try:
            service.accept_offer(
                session,
                actor,
                offer_id,
                OfferAccept(
                    version=_version(form),
                    admitted_on=admitted_on,
                    expected_discharge_on=discharge_on,
                ),
            )
        except DomainError as e:
            exc = e
        else:
            return _redirect(f"/pools/entries/{entry_id}?done=accepted")
    return _entry_refused(request, session, actor, entry_id, "accept", exc, errors, values)


@router.post("/pools/entries/{entry_id:int}/offers/{offer_id:int}/decline")
def decline_submit(
    request: Request, session: DB, actor: PageActor, entry_id: int, offer_id: int, form: Form
) -> Response:
    _require_read(actor)
    errors = Errors()
    reason = form.get("reason")
    if not reason:
        errors.add("reason", REQUIRED)
    values = {"reason": reason}
    exc: DomainError | None = None
    if not errors:
        data = build(OfferDecline, {"version": _version(form), "reason": reason}, errors)
        if data is not None:
            try:
                service.decline_offer(session, actor, offer_id, data)
            except DomainError as e:
                exc = e
            else:
                return _redirect(f"/pools/entries/{entry_id}?done=declined")
    return _entry_refused(request, session, actor, entry_id, "decline", exc, errors, values)


@router.post("/pools/entries/{entry_id:int}/status-links")
def status_link_submit(
    request: Request, session: DB, actor: PageActor, entry_id: int, form: Form
) -> Response:
    _require_read(actor)
    settings = settings_of(request)
    try:
        link, token = queries.create_status_link(session, actor, entry_id, settings)
    except DomainError as exc:
        return _entry_refused(request, session, actor, entry_id, "link", exc, Errors(), {})
    return _entry_page(
        request,
        session,
        actor,
        entry_id,
        new_link=(queries.status_url(settings, token), link.expires_at),
        flash=gettext(LINK_MADE),
        # the page holds the secret once: never cached, never sent on as a referrer
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


@router.post("/pools/entries/{entry_id:int}/status-links/{link_id:int}/revoke")
def status_link_revoke(
    request: Request, session: DB, actor: PageActor, entry_id: int, link_id: int, form: Form
) -> Response:
    _require_read(actor)
    link = queries.revoke_status_link(session, actor, link_id)
    return _redirect(f"/pools/entries/{link.entry_id}?done=revoked#links")


# --- why a unit went to whom ------------------------------------------------------------------


def _passed_text(key: str) -> str:
    try:
        return gettext(PASSED_OVER_LABELS[PassedOver(key)])
    except ValueError:
        return key


@router.get("/pools/decisions/{decision_id:int}")
def decision_page(request: Request, session: DB, actor: PageActor, decision_id: int) -> Response:
    _require_read(actor)
    view = queries.decision_view(session, actor, decision_id)
    d = view.decision
    passed = [(_passed_text(k), n) for k, n in sorted(d.passed_over.items()) if n]
    policy_choice = (
        view.candidates[0] if d.rule == Rule.OVERRIDE.value and view.candidates else None
    )
    return render(
        request,
        "pools/decision.html",
        {
            "v": view,
            "d": d,
            "pool": view.pool,
            "passed": passed,
            "policy": [(k, d.policy[k]) for k in POLICY_LIMITS if k in d.policy],
            "policy_choice": policy_choice,
            "done": _done(request),
            "pool_nav": pool_nav(view.pool, actor, session),
            **LABELS,
        },
    )


# --- the overrides report -------------------------------------------------------------------


@dataclass(frozen=True)
class OverrideRow:
    decision: AllocationDecision
    unit: str
    chosen: int | None
    policy_choice: int | None
    reason: str
    who: str


def _override_rows(session: Session, actor: Actor, pool_id: int) -> list[OverrideRow]:
    rows = queries.decisions_of(session, actor, pool_id, overrides_only=True)
    units = {
        u.id: u
        for u in session.scalars(select(ResourceUnit).where(ResourceUnit.pool_id == pool_id))
    }
    who = display_names(session, {d.decided_by_user_id for d in rows if d.decided_by_user_id})
    out: list[OverrideRow] = []
    for d in rows:
        unit = units.get(d.unit_id)
        out.append(
            OverrideRow(
                decision=d,
                unit=f"{unit.name} ({unit.code})" if unit else str(d.unit_id),
                chosen=d.chosen_entry_id,
                policy_choice=int(d.candidates[0]["entry_id"]) if d.candidates else None,
                reason=d.override_reason or "",
                who=who.get(d.decided_by_user_id, "") if d.decided_by_user_id else "",
            )
        )
    return out


@router.get("/pools/{pool_id:int}/overrides")
def overrides_page(request: Request, session: DB, actor: PageActor, pool_id: int) -> Response:
    _require_read(actor)
    pool = service.get_pool(session, actor, pool_id)
    return render(
        request,
        "pools/overrides.html",
        {
            "pool": pool,
            "rows": _override_rows(session, actor, pool_id),
            "pool_nav": pool_nav(pool, actor, session),
        },
    )


@router.get("/pools/{pool_id:int}/overrides.csv")
def overrides_csv(request: Request, session: DB, actor: PageActor, pool_id: int) -> Response:
    _require_read(actor)
    pool = service.get_pool(session, actor, pool_id)
    buf = io.StringIO()
    buf.write("\ufeff")
    writer = csv.writer(buf)
    writer.writerow(["at", "unit", "chosen_entry_id", "policy_choice_entry_id", "reason", "by"])
    for r in _override_rows(session, actor, pool_id):
        writer.writerow(
            safe_cells(
                r.decision.at.astimezone(clock.CST).strftime("%Y-%m-%d %H:%M"),
                r.unit,
                r.chosen,
                r.policy_choice,
                r.reason,
                r.who,
            )
        )
    return Response(
        buf.getvalue().encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="overrides-{pool.code}.csv"'},
    )


# --- the family's page --------------------------------------------------------------------------


def _choose_language(request: Request) -> str:
    chosen = i18n.normalise_locale(request.query_params.get("lang")) or i18n.DEFAULT_LOCALE
    i18n.set_locale(chosen)
    return chosen


PRIVATE_HEADERS = {
    "Cache-Control": "no-store, max-age=0",
    "Pragma": "no-cache",
    "X-Robots-Tag": "noindex, nofollow",
    "Referrer-Policy": "no-referrer",
}


@router.get("/pools/status/{token}")
async def family_status_page(request: Request, token: str) -> Response:
    locale = _choose_language(request)
    try:
        # a transaction of its own, committed even when the link is refused (the refusal
        # stays in the audit trail); it writes (the last view), so it starts as a write
        found = await anyio.to_thread.run_sync(
            queries.open_status_link, write_session_factory_of(request), token[:200]
        )
    except DomainError as exc:
        return render(
            request,
            "pools/status.html",
            {
                "s": None,
                "locale": locale,
                "title": gettext(INVALID_TITLE),
                "text": exc.text(),
            },
            status_code=404,
            headers=PRIVATE_HEADERS,
        )
    today = service.today_of(found.updated_at)
    return render(
        request,
        "pools/status.html",
        {
            "s": found,
            "locale": locale,
            "title": found.pool_zh if locale == "zh_Hans" else found.pool_en,
            "status_label": gettext(FAMILY_LABELS.get(found.status, found.status)),
            "text": gettext(FAMILY_TEXT.get(found.status, ""))
            if found.status in FAMILY_TEXT
            else "",
            "waited_days": max(0, (today - found.listed_on).days),
        },
        headers=PRIVATE_HEADERS,
    )
