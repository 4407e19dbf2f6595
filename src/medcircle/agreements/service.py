"""Use cases of agreements: framework agreements, pairings and trusteeships, goals, documents."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from medcircle.agreements import repository
from medcircle.agreements.domain import (
    ALLOWED_DOCUMENTS_LABEL,
    DATES_ORDER_MESSAGE,
    KIND_LABELS,
    AgreementKind,
    AgreementStatus,
    AgreementTerms,
    GoalStatus,
    Problem,
    date_errors,
    detect_document_type,
    ends_soon,
    extension_matches,
    goal_errors,
    goal_overdue,
    is_zip,
    sanitise_filename,
    status_on,
    term_errors,
    term_warnings,
)
from medcircle.agreements.models import (
    AgreementDocument,
    AgreementGoal,
    CooperationAgreement,
    FrameworkAgreement,
)
from medcircle.agreements.repository import AgreementFilter
from medcircle.agreements.schemas import (
    AgreementCreate,
    AgreementTerminate,
    AgreementUpdate,
    FrameworkCreate,
    FrameworkUpdate,
    GoalCreate,
    GoalUpdate,
)
from medcircle.audit import service as audit
from medcircle.auth.domain import Actor, Permission
from medcircle.kit import clock, i18n
from medcircle.kit.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    ValidationFailed,
)
from medcircle.kit.i18n import N_
from medcircle.kit.pagination import PageParams
from medcircle.registry.domain import is_valid_code, normalise_code
from medcircle.registry.models import Division, Institution, SpecialtyRow

log = logging.getLogger("medcircle.agreements")

STALE_MESSAGE = N_(
    "Someone else changed this after you opened it. Reload it and apply your change again."
)
UNKNOWN_INSTITUTION_CODE = N_("No institution has the code %(value)s.")
UNKNOWN_INSTITUTION_ID = N_("No institution has the number %(id)s.")
CODE_FORMAT_MESSAGE = N_("Use 2 to 32 capital letters, digits and hyphens.")


# --- who may do what ----------------------------------------------------------------------


def _require(actor: Actor, permission: Permission) -> None:
    if not actor.can(permission):
        raise Forbidden()


def read_scope(actor: Actor) -> int | None:
    """The institution whose agreements ``actor`` may read, or None for every agreement.

    Commission analysts and platform admins oversee the whole circle; everyone else sees the
    agreements their own institution is a party to."""
    _require(actor, Permission.AGREEMENT_READ)
    if actor.can(Permission.AGREEMENT_MANAGE_ALL) or actor.can(Permission.FRAMEWORK_MANAGE):
        return None
    return actor.institution_id


def may_manage(actor: Actor, agreement: CooperationAgreement) -> bool:
    """Manage-all roles edit any pairing; institution admins those their institution is in."""
    if actor.can(Permission.AGREEMENT_MANAGE_ALL):
        return True
    return actor.can(Permission.AGREEMENT_MANAGE) and actor.institution_id in (
        agreement.supporting_institution_id,
        agreement.supported_institution_id,
    )


def may_create(actor: Actor) -> bool:
    return actor.can(Permission.AGREEMENT_MANAGE_ALL) or actor.can(Permission.AGREEMENT_MANAGE)


def may_manage_frameworks(actor: Actor) -> bool:
    return actor.can(Permission.FRAMEWORK_MANAGE)


def _require_manage(actor: Actor, agreement: CooperationAgreement) -> None:
    if not may_manage(actor, agreement):
        raise Forbidden(
            N_("Only the parties' offices and the commission may change this agreement.")
        )


def _visible_agreement(session: Session, actor: Actor, agreement_id: int) -> CooperationAgreement:
    """The agreement if ``actor`` may read it; otherwise it does not exist for them."""
    scope = read_scope(actor)
    agreement = repository.agreement_by_id(session, agreement_id)
    if agreement is None or (
        scope is not None
        and scope not in (agreement.supporting_institution_id, agreement.supported_institution_id)
    ):
        raise NotFound(N_("No agreement with this number."))
    return agreement


def _field_errors(problems: Sequence[Problem]) -> list[FieldError]:
    return [FieldError(p.field, p.message, p.params_dict, code=p.code) for p in problems]


def _flush(session: Session) -> None:
    """Flush, turning a concurrent edit caught by the version column into a 409."""
    try:
        session.flush()
    except StaleDataError as exc:
        raise Conflict(STALE_MESSAGE, code="stale_version") from exc


def _check_version(current: int, sent: int) -> None:
    if current != sent:
        raise Conflict(STALE_MESSAGE, code="stale_version")


def check_dates(**days: date | None) -> None:
    """Refuse dates outside the range the platform accepts (see domain.date_errors)."""
    problems = date_errors(**days)
    if problems:
        raise ValidationFailed(field_errors=_field_errors(problems))


def _clean_code(value: str, field_name: str) -> str:
    code = normalise_code(value)
    if not is_valid_code(code):
        raise ValidationFailed(field_errors=[FieldError(field_name, CODE_FORMAT_MESSAGE)])
    return code


# --- views --------------------------------------------------------------------------------


@dataclass
class AgreementView:
    """A pairing with what a reader needs next to it: parties, specialties, status on a date."""

    agreement: CooperationAgreement
    supporting: Institution
    supported: Institution
    specialties: list[SpecialtyRow]
    on: date
    status: AgreementStatus
    ends_soon: bool
    overdue_goals: int
    warnings: list[Problem] = field(default_factory=list)


@dataclass
class GoalView:
    goal: AgreementGoal
    overdue: bool
    agreement: CooperationAgreement | None = None
    days_overdue: int = 0


def _views(
    session: Session, agreements: Sequence[CooperationAgreement], on: date
) -> list[AgreementView]:
    ids = [a.id for a in agreements]
    institutions = repository.institutions_by_ids(
        session,
        [a.supporting_institution_id for a in agreements]
        + [a.supported_institution_id for a in agreements],
    )
    codes = repository.specialties_of(session, ids)
    specs = repository.specialties_by_code(session, [c for cs in codes.values() for c in cs])
    overdue = repository.overdue_counts(session, ids, on)
    return [
        AgreementView(
            agreement=a,
            supporting=institutions[a.supporting_institution_id],
            supported=institutions[a.supported_institution_id],
            specialties=[specs[c] for c in codes[a.id] if c in specs],
            on=on,
            status=status_on(a.starts_on, a.ends_on, a.terminated_on, on),
            ends_soon=ends_soon(a.ends_on, a.terminated_on, on),
            overdue_goals=overdue.get(a.id, 0),
        )
        for a in agreements
    ]


# --- framework agreements -----------------------------------------------------------------


def list_frameworks(
    session: Session, actor: Actor, page: PageParams
) -> tuple[Sequence[FrameworkAgreement], int, dict[int, int]]:
    """Framework agreements between governments, newest first, with their pairing counts."""
    _require(actor, Permission.AGREEMENT_READ)
    rows, total = repository.list_frameworks(session, page)
    counts = repository.agreement_counts_by_framework(session, [r.id for r in rows])
    return rows, total, counts


def framework_choices(session: Session, actor: Actor) -> Sequence[FrameworkAgreement]:
    _require(actor, Permission.AGREEMENT_READ)
    return repository.framework_choices(session)


def get_framework(session: Session, actor: Actor, framework_id: int) -> FrameworkAgreement:
    _require(actor, Permission.AGREEMENT_READ)
    fw = repository.framework_by_id(session, framework_id)
    if fw is None:
        raise NotFound(N_("No framework agreement with this number."))
    return fw


def party_divisions(session: Session, actor: Actor) -> Sequence[Division]:
    """Provinces and cities: the governments that sign framework agreements."""
    _require(actor, Permission.AGREEMENT_READ)
    return repository.province_and_city_divisions(session)


def framework_agreement_count(session: Session, framework_id: int) -> int:
    return repository.agreement_counts_by_framework(session, [framework_id]).get(framework_id, 0)


def _framework_problems(session: Session, values: dict[str, Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    for name in ("party_a_division_code", "party_b_division_code"):
        if not repository.division_exists(session, values[name]):
            errors.append(
                FieldError(
                    name,
                    N_("No administrative division has the code %(value)s."),
                    {"value": values[name]},
                )
            )
    if values["ends_on"] is not None and values["ends_on"] <= values["starts_on"]:
        errors.append(FieldError("ends_on", DATES_ORDER_MESSAGE))
    return errors


def _raise_framework_problems(session: Session, values: dict[str, Any]) -> None:
    check_dates(**{k: values.get(k) for k in ("signed_on", "starts_on", "ends_on")})
    errors = _framework_problems(session, values)
    if errors:
        unknown = any(e.field.endswith("division_code") for e in errors)
        raise ValidationFailed(
            code="unknown_division" if unknown else "invalid_terms", field_errors=errors
        )


def create_framework(session: Session, actor: Actor, data: FrameworkCreate) -> FrameworkAgreement:
    """Record a framework agreement between two governments (commission and platform admin)."""
    _require(actor, Permission.FRAMEWORK_MANAGE)
    values = data.model_dump()
    if values["code"]:
        values["code"] = _clean_code(values["code"], "code")
    _raise_framework_problems(session, values)
    if values["code"] and repository.framework_code_taken(session, values["code"]):
        raise Conflict(
            N_("Another framework agreement has the code %(value)s."),
            code="framework_code_taken",
            value=values["code"],
        )
    if not values["code"]:
        prefix = f"FA-{values['starts_on'].year}-"
        n = 1
        while repository.framework_code_taken(session, f"{prefix}{n:02d}"):
            n += 1
        values["code"] = f"{prefix}{n:02d}"
    now = clock.now()
    fw = FrameworkAgreement(**values, created_at=now, updated_at=now)
    session.add(fw)
    _flush(session)
    audit.record(
        session,
        actor,
        "framework.create",
        object_type="framework_agreement",
        object_id=fw.id,
        detail={"code": fw.code, "parties": [fw.party_a, fw.party_b]},
    )
    return fw


def update_framework(
    session: Session, actor: Actor, framework_id: int, data: FrameworkUpdate
) -> FrameworkAgreement:
    """Change a framework agreement (fields sent only), refusing edits to a stale version."""
    _require(actor, Permission.FRAMEWORK_MANAGE)
    fw = get_framework(session, actor, framework_id)
    _check_version(fw.version, data.version)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    for required in (
        "code",
        "title_zh",
        "title_en",
        "party_a",
        "party_b",
        "signed_on",
        "starts_on",
    ):
        if required in changes and changes[required] is None:
            raise ValidationFailed(
                field_errors=[FieldError(required, N_("This field cannot be emptied."))]
            )
    if changes.get("code"):
        changes["code"] = _clean_code(changes["code"], "code")
        if repository.framework_code_taken(session, changes["code"], except_id=fw.id):
            raise Conflict(
                N_("Another framework agreement has the code %(value)s."),
                code="framework_code_taken",
                value=changes["code"],
            )
    merged = {
        name: changes.get(name, getattr(fw, name))
        for name in ("party_a_division_code", "party_b_division_code", "starts_on", "ends_on")
    }
    _raise_framework_problems(session, merged)
    changed = {k: v for k, v in changes.items() if getattr(fw, k) != v}
    for name, value in changed.items():
        setattr(fw, name, value)
    if changed:
        fw.updated_at = clock.now()
        _flush(session)
    audit.record(
        session,
        actor,
        "framework.update",
        object_type="framework_agreement",
        object_id=fw.id,
        detail={"changed": sorted(changed)},
    )
    return fw


# --- cooperation agreements ---------------------------------------------------------------


def list_agreements(
    session: Session, actor: Actor, f: AgreementFilter, page: PageParams
) -> tuple[list[AgreementView], int]:
    """Pairings the actor may read, filtered, with their status on ``f.on``."""
    scope = read_scope(actor)
    check_dates(active_on=f.on)
    rows, total = repository.list_agreements(session, f, page, scope)
    return _views(session, rows, f.on), total


def get_agreement(
    session: Session, actor: Actor, agreement_id: int, on: date | None = None
) -> AgreementView:
    agreement = _visible_agreement(session, actor, agreement_id)
    check_dates(on=on)
    return _views(session, [agreement], on or clock.today())[0]


def institution_choices(session: Session, actor: Actor) -> Sequence[Institution]:
    _require(actor, Permission.AGREEMENT_READ)
    return repository.institution_choices(session)


def specialty_choices(session: Session, actor: Actor) -> Sequence[SpecialtyRow]:
    _require(actor, Permission.AGREEMENT_READ)
    return repository.all_specialties(session)


def _resolve_institution(
    session: Session, role: str, institution_id: int | None, code: str | None
) -> tuple[Institution | None, FieldError | None]:
    """An institution given by number or by code (``role`` is supporting or supported)."""
    field_name = f"{role}_institution_id"
    if code:
        found = repository.institution_by_code(session, normalise_code(code))
        if found is None:
            return None, FieldError(
                f"{role}_institution_code", UNKNOWN_INSTITUTION_CODE, {"value": code}
            )
        if institution_id is not None and institution_id != found.id:
            return None, FieldError(
                field_name, N_("The institution number and code name different institutions.")
            )
        return found, None
    if institution_id is None:
        message = (
            N_("Choose the supporting institution.")
            if role == "supporting"
            else N_("Choose the supported institution.")
        )
        return None, FieldError(field_name, message)
    found = repository.institution_by_id(session, institution_id)
    if found is None:
        return None, FieldError(field_name, UNKNOWN_INSTITUTION_ID, {"id": institution_id})
    return found, None


def _terms_problems(
    kind: AgreementKind,
    supporting: Institution,
    supported: Institution,
    starts_on: date,
    ends_on: date,
    specialties: list[str],
    licensed_name_zh: str | None,
    licensed_name_en: str | None,
) -> tuple[AgreementTerms, list[FieldError]]:
    terms = AgreementTerms(
        kind=kind,
        supporting_institution_id=supporting.id,
        supported_institution_id=supported.id,
        starts_on=starts_on,
        ends_on=ends_on,
        specialty_codes=tuple(specialties),
        licensed_name_zh=licensed_name_zh,
    )
    errors = _field_errors(term_errors(terms))
    if kind is not AgreementKind.TRUSTEESHIP and (licensed_name_zh or licensed_name_en):
        errors.append(
            FieldError("licensed_name_zh", N_("Only a trusteeship gives a licensed name."))
        )
    elif bool(licensed_name_zh) != bool(licensed_name_en):
        missing = "licensed_name_en" if licensed_name_zh else "licensed_name_zh"
        errors.append(
            FieldError(missing, N_("Give the licensed name in both Chinese and English."))
        )
    return terms, errors


def _check_specialties(session: Session, codes: list[str]) -> None:
    unknown = sorted(set(codes) - repository.existing_specialties(session, codes))
    if unknown:
        raise ValidationFailed(
            code="unknown_specialty",
            field_errors=[
                FieldError("specialties", N_("Unknown specialty: %(value)s."), {"value": c})
                for c in unknown
            ],
        )


def _check_framework(session: Session, framework_id: int | None) -> None:
    if framework_id is not None and repository.framework_by_id(session, framework_id) is None:
        raise ValidationFailed(
            code="unknown_framework",
            field_errors=[
                FieldError(
                    "framework_id",
                    N_("No framework agreement has the number %(id)s."),
                    {"id": framework_id},
                )
            ],
        )


def _check_party_scope(actor: Actor, supporting: Institution, supported: Institution) -> None:
    if actor.can(Permission.AGREEMENT_MANAGE_ALL):
        return
    if not actor.can(Permission.AGREEMENT_MANAGE) or actor.institution_id not in (
        supporting.id,
        supported.id,
    ):
        raise Forbidden(N_("You can record only agreements your own institution is a party to."))


def _default_titles(
    kind: AgreementKind, supporting: Institution, supported: Institution
) -> tuple[str, str]:
    label = KIND_LABELS[kind]
    kind_zh = i18n.translations("zh_Hans").ugettext(label)
    return (
        f"{supporting.name_zh}—{supported.name_zh}{kind_zh}协议"[:200],
        f"{supporting.name_en} – {supported.name_en}: {label} agreement"[:300],
    )


def _generate_code(session: Session, starts_on: date) -> str:
    prefix = f"CA-{starts_on.year}-"
    n = repository.agreement_codes_with_prefix(session, prefix) + 1
    while repository.agreement_code_taken(session, f"{prefix}{n:03d}"):
        n += 1
    return f"{prefix}{n:03d}"


def _rename_for_trusteeship(
    session: Session, actor: Actor, agreement: CooperationAgreement
) -> None:
    """A trusteeship's licensed name becomes the supported hospital's name from the start
    date; the registry keeps the old name in the history."""
    if not (agreement.licensed_name_zh and agreement.licensed_name_en):
        return
    supported = repository.institution_by_id(session, agreement.supported_institution_id)
    if supported is not None and (supported.name_zh, supported.name_en) == (
        agreement.licensed_name_zh,
        agreement.licensed_name_en,
    ):
        return  # the hospital already carries the licensed name
    from medcircle.registry import service as registry_service

    registry_service.rename_institution(
        session,
        actor,
        agreement.supported_institution_id,
        agreement.licensed_name_zh,
        agreement.licensed_name_en,
        agreement.starts_on,
        f"Trusteeship {agreement.code}",
        agreement_id=agreement.id,
    )


def create_agreement(session: Session, actor: Actor, data: AgreementCreate) -> AgreementView:
    """Record a pairing; refuses impossible terms, returns the unusual ones as warnings."""
    if not may_create(actor):
        raise Forbidden()
    check_dates(signed_on=data.signed_on, starts_on=data.starts_on, ends_on=data.ends_on)
    supporting, e1 = _resolve_institution(
        session, "supporting", data.supporting_institution_id, data.supporting_institution_code
    )
    supported, e2 = _resolve_institution(
        session, "supported", data.supported_institution_id, data.supported_institution_code
    )
    unresolved = [e for e in (e1, e2) if e is not None]
    if unresolved or supporting is None or supported is None:
        raise ValidationFailed(code="unknown_institution", field_errors=unresolved)
    _check_party_scope(actor, supporting, supported)
    _check_framework(session, data.framework_id)
    specialties = list(data.specialties)
    _check_specialties(session, specialties)
    terms, errors = _terms_problems(
        data.kind,
        supporting,
        supported,
        data.starts_on,
        data.ends_on,
        specialties,
        data.licensed_name_zh,
        data.licensed_name_en,
    )
    if errors:
        raise ValidationFailed(code="invalid_terms", field_errors=errors)
    code = _clean_code(data.code, "code") if data.code else _generate_code(session, data.starts_on)
    if repository.agreement_code_taken(session, code):
        raise Conflict(
            N_("Another agreement has the code %(value)s."),
            code="agreement_code_taken",
            value=code,
        )
    title_zh, title_en = _default_titles(data.kind, supporting, supported)
    now = clock.now()
    agreement = CooperationAgreement(
        code=code,
        framework_id=data.framework_id,
        kind=data.kind.value,
        supporting_institution_id=supporting.id,
        supported_institution_id=supported.id,
        title_zh=data.title_zh or title_zh,
        title_en=data.title_en or title_en,
        signed_on=data.signed_on,
        starts_on=data.starts_on,
        ends_on=data.ends_on,
        licensed_name_zh=data.licensed_name_zh,
        licensed_name_en=data.licensed_name_en,
        notes=data.notes,
        created_at=now,
        updated_at=now,
    )
    session.add(agreement)
    _flush(session)
    repository.replace_specialties(session, agreement.id, specialties)
    warnings = term_warnings(terms)
    audit.record(
        session,
        actor,
        "agreement.create",
        object_type="cooperation_agreement",
        object_id=agreement.id,
        detail={
            "code": code,
            "kind": data.kind.value,
            "supporting": supporting.code,
            "supported": supported.code,
            "specialties": sorted(specialties),
            "warnings": [w.field for w in warnings],
        },
    )
    if agreement.kind == AgreementKind.TRUSTEESHIP:
        _rename_for_trusteeship(session, actor, agreement)
    view = get_agreement(session, actor, agreement.id)
    view.warnings = warnings
    return view


_INSTITUTION_FIELDS = (
    "supporting_institution_id",
    "supporting_institution_code",
    "supported_institution_id",
    "supported_institution_code",
)
_NOT_NULL = ("code", "kind", "title_zh", "title_en", "starts_on", "ends_on", "specialties")


def update_agreement(
    session: Session, actor: Actor, agreement_id: int, data: AgreementUpdate
) -> AgreementView:
    """Change a pairing (fields sent only) under the same rules as creating it."""
    agreement = _visible_agreement(session, actor, agreement_id)
    _require_manage(actor, agreement)
    _check_version(agreement.version, data.version)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    check_dates(**{k: changes.get(k) for k in ("signed_on", "starts_on", "ends_on")})
    for name in _NOT_NULL:
        if name in changes and changes[name] is None:
            raise ValidationFailed(
                field_errors=[FieldError(name, N_("This field cannot be emptied."))]
            )
    sent = set(changes)
    supporting, e1 = _resolve_institution(
        session,
        "supporting",
        changes.get("supporting_institution_id", None)
        if sent & {"supporting_institution_id", "supporting_institution_code"}
        else agreement.supporting_institution_id,
        changes.get("supporting_institution_code"),
    )
    supported, e2 = _resolve_institution(
        session,
        "supported",
        changes.get("supported_institution_id", None)
        if sent & {"supported_institution_id", "supported_institution_code"}
        else agreement.supported_institution_id,
        changes.get("supported_institution_code"),
    )
    unresolved = [e for e in (e1, e2) if e is not None]
    if unresolved or supporting is None or supported is None:
        raise ValidationFailed(code="unknown_institution", field_errors=unresolved)
    _check_party_scope(actor, supporting, supported)
    if "framework_id" in changes:
        _check_framework(session, changes["framework_id"])
    old_specialties = repository.specialties_of(session, [agreement.id])[agreement.id]
    specialties = list(changes.get("specialties", old_specialties))
    _check_specialties(session, specialties)
    kind = AgreementKind(changes.get("kind", agreement.kind))
    licensed_zh = changes.get("licensed_name_zh", agreement.licensed_name_zh)
    licensed_en = changes.get("licensed_name_en", agreement.licensed_name_en)
    terms, errors = _terms_problems(
        kind,
        supporting,
        supported,
        changes.get("starts_on", agreement.starts_on),
        changes.get("ends_on", agreement.ends_on),
        specialties,
        licensed_zh,
        licensed_en,
    )
    if errors:
        raise ValidationFailed(code="invalid_terms", field_errors=errors)
    if changes.get("code"):
        changes["code"] = _clean_code(changes["code"], "code")
        if repository.agreement_code_taken(session, changes["code"], except_id=agreement.id):
            raise Conflict(
                N_("Another agreement has the code %(value)s."),
                code="agreement_code_taken",
                value=changes["code"],
            )
    name_before = (agreement.licensed_name_zh, agreement.licensed_name_en)
    columns = {k: v for k, v in changes.items() if k not in _INSTITUTION_FIELDS}
    columns.pop("specialties", None)
    columns["supporting_institution_id"] = supporting.id
    columns["supported_institution_id"] = supported.id
    if "kind" in columns:
        columns["kind"] = kind.value
    changed = sorted(k for k, v in columns.items() if getattr(agreement, k) != v)
    for name in changed:
        setattr(agreement, name, columns[name])
    if sorted(set(specialties)) != sorted(old_specialties):
        repository.replace_specialties(session, agreement.id, specialties)
        changed.append("specialties")
    if changed:
        agreement.updated_at = clock.now()
        _flush(session)
    warnings = term_warnings(terms)
    audit.record(
        session,
        actor,
        "agreement.update",
        object_type="cooperation_agreement",
        object_id=agreement.id,
        detail={"changed": changed, "warnings": [w.field for w in warnings]},
    )
    if kind is AgreementKind.TRUSTEESHIP and (
        (agreement.licensed_name_zh, agreement.licensed_name_en) != name_before
    ):
        _rename_for_trusteeship(session, actor, agreement)
    view = get_agreement(session, actor, agreement.id)
    view.warnings = warnings
    return view


def terminate_agreement(
    session: Session, actor: Actor, agreement_id: int, data: AgreementTerminate
) -> AgreementView:
    """End a pairing early: from ``terminated_on`` on it no longer runs; the reason is kept
    in the notes and the audit trail."""
    agreement = _visible_agreement(session, actor, agreement_id)
    _require_manage(actor, agreement)
    _check_version(agreement.version, data.version)
    if agreement.terminated_on is not None:
        raise Conflict(
            N_("This agreement was already terminated on %(day)s."),
            code="already_terminated",
            day=agreement.terminated_on.isoformat(),
        )
    check_dates(terminated_on=data.terminated_on)
    if not (agreement.starts_on <= data.terminated_on < agreement.ends_on):
        raise ValidationFailed(
            code="invalid_terms",
            field_errors=[
                FieldError(
                    "terminated_on",
                    N_("The termination date must fall within the term (%(start)s to %(end)s)."),
                    {
                        "start": agreement.starts_on.isoformat(),
                        "end": agreement.ends_on.isoformat(),
                    },
                )
            ],
        )
    agreement.terminated_on = data.terminated_on
    line = f"[{data.terminated_on.isoformat()}] {data.reason}"
    agreement.notes = f"{agreement.notes}\n{line}" if agreement.notes else line
    agreement.updated_at = clock.now()
    _flush(session)
    audit.record(
        session,
        actor,
        "agreement.terminate",
        object_type="cooperation_agreement",
        object_id=agreement.id,
        detail={"terminated_on": data.terminated_on.isoformat(), "reason": data.reason},
    )
    return get_agreement(session, actor, agreement.id)


# --- goals --------------------------------------------------------------------------------


def list_goals(session: Session, actor: Actor, agreement_id: int) -> list[GoalView]:
    _visible_agreement(session, actor, agreement_id)
    today = clock.today()
    return [
        GoalView(g, goal_overdue(GoalStatus(g.status), g.due_on, today))
        for g in repository.goals_of(session, agreement_id)
    ]


def add_goal(session: Session, actor: Actor, agreement_id: int, data: GoalCreate) -> GoalView:
    """Add a goal with its due date to a pairing."""
    agreement = _visible_agreement(session, actor, agreement_id)
    _require_manage(actor, agreement)
    check_dates(due_on=data.due_on, achieved_on=data.achieved_on)
    today = clock.today()
    errors = goal_errors(data.status, data.achieved_on, data.due_on, today)
    if errors:
        raise ValidationFailed(field_errors=_field_errors(errors))
    goal = AgreementGoal(
        agreement_id=agreement.id,
        description_zh=data.description_zh,
        description_en=data.description_en or data.description_zh,
        due_on=data.due_on,
        status=data.status.value,
        progress_note=data.progress_note,
        achieved_on=data.achieved_on,
        updated_at=clock.now(),
    )
    session.add(goal)
    session.flush()
    audit.record(
        session,
        actor,
        "agreement.goal_add",
        object_type="agreement_goal",
        object_id=goal.id,
        detail={"agreement_id": agreement.id, "due_on": data.due_on.isoformat()},
    )
    return GoalView(goal, goal_overdue(data.status, goal.due_on, today))


def get_goal(
    session: Session, actor: Actor, goal_id: int
) -> tuple[AgreementGoal, CooperationAgreement]:
    goal = repository.goal_by_id(session, goal_id)
    if goal is None:
        raise NotFound(N_("No goal with this number."))
    try:
        agreement = _visible_agreement(session, actor, goal.agreement_id)
    except NotFound as exc:
        raise NotFound(N_("No goal with this number.")) from exc
    return goal, agreement


def update_goal(session: Session, actor: Actor, goal_id: int, data: GoalUpdate) -> GoalView:
    """Record progress on a goal: its status, a note, the date it was achieved."""
    goal, agreement = get_goal(session, actor, goal_id)
    _require_manage(actor, agreement)
    changes = data.model_dump(exclude_unset=True)
    for name in ("description_zh", "description_en", "due_on", "status"):
        if name in changes and changes[name] is None:
            raise ValidationFailed(
                field_errors=[FieldError(name, N_("This field cannot be emptied."))]
            )
    check_dates(due_on=changes.get("due_on"), achieved_on=changes.get("achieved_on"))
    status = GoalStatus(changes.get("status", goal.status))
    if "status" in changes and status is not GoalStatus.ACHIEVED and "achieved_on" not in changes:
        changes["achieved_on"] = None  # leaving "achieved" drops the achievement date
    if (
        status is GoalStatus.ACHIEVED
        and goal.achieved_on is None
        and not changes.get("achieved_on")
    ):
        changes["achieved_on"] = clock.today()
    today = clock.today()
    errors = goal_errors(
        status,
        changes.get("achieved_on", goal.achieved_on),
        changes.get("due_on", goal.due_on),
        today,
    )
    if errors:
        raise ValidationFailed(field_errors=_field_errors(errors))
    if "status" in changes:
        changes["status"] = status.value
    changed = sorted(k for k, v in changes.items() if getattr(goal, k) != v)
    for name in changed:
        setattr(goal, name, changes[name])
    if changed:
        goal.updated_at = clock.now()
        session.flush()
    audit.record(
        session,
        actor,
        "agreement.goal_update",
        object_type="agreement_goal",
        object_id=goal.id,
        detail={"agreement_id": agreement.id, "changed": changed, "status": goal.status},
    )
    return GoalView(goal, goal_overdue(status, goal.due_on, today))


def list_overdue_goals(
    session: Session, actor: Actor, page: PageParams, on: date | None = None
) -> tuple[list[GoalView], int]:
    """Open goals past their due date on running pairings the actor may read."""
    scope = read_scope(actor)
    check_dates(on=on)
    day = on or clock.today()
    rows, total = repository.overdue_goals(session, day, page, scope)
    return [GoalView(g, True, a, (day - g.due_on).days) for g, a in rows], total


# --- documents ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StagedFile:
    """An upload written to a temporary file next to the store, not yet in place."""

    temp_path: Path
    sha256: str
    size: int
    head: bytes
    zip_names: frozenset[str]


class DocumentStore:
    """Files by content hash under ``root`` (``<sha256[:2]>/<sha256>``), written atomically:
    a temporary file in the same file system, fsync, then rename into place."""

    CHUNK = 1024 * 1024
    HEAD = 64 * 1024

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def stage(self, source: IO[bytes], max_bytes: int) -> StagedFile:
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        head = b""
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="upload-")
        temp_path = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := source.read(self.CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise PayloadTooLarge(
                            N_("The limit is %(mb).1f MB."), mb=max_bytes / (1024 * 1024)
                        )
                    if len(head) < self.HEAD:
                        head += chunk[: self.HEAD - len(head)]
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            names: frozenset[str] = frozenset()
            if is_zip(head):
                with (
                    contextlib.suppress(zipfile.BadZipFile, OSError),
                    zipfile.ZipFile(temp_path) as archive,
                ):
                    names = frozenset(archive.namelist())
        except BaseException:
            self.discard(temp_path)
            raise
        return StagedFile(temp_path, digest.hexdigest(), size, head, names)

    def discard(self, temp_path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            temp_path.unlink()

    def place(self, staged: StagedFile) -> bool:
        """Move a staged file into place; False when the same content is already stored."""
        final = self.path_for(staged.sha256)
        if final.exists():
            self.discard(staged.temp_path)
            return False
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged.temp_path, final)
        dir_fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return True

    def remove(self, sha256: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path_for(sha256).unlink()


def list_documents(
    session: Session, actor: Actor, agreement_id: int
) -> Sequence[AgreementDocument]:
    _visible_agreement(session, actor, agreement_id)
    return repository.documents_of(session, agreement_id)


def upload_document(
    session: Session,
    actor: Actor,
    agreement_id: int,
    *,
    filename: str,
    source: IO[bytes],
    store: DocumentStore,
    max_bytes: int,
) -> AgreementDocument:
    """Attach a file to a pairing: the type is judged by content, the name made safe, the bytes
    stored once by hash; a refused upload leaves neither a row nor a file."""
    agreement = _visible_agreement(session, actor, agreement_id)
    _require_manage(actor, agreement)
    staged = store.stage(source, max_bytes)
    placed = False
    try:
        if staged.size == 0:
            raise ValidationFailed(
                code="empty_file", field_errors=[FieldError("file", N_("The file is empty."))]
            )
        doc_type = detect_document_type(staged.head, staged.zip_names)
        if doc_type is None:
            raise ValidationFailed(
                code="unsupported_file_type",
                field_errors=[
                    FieldError(
                        "file",
                        N_("This kind of file cannot be attached. Allowed: %(types)s."),
                        {"types": ALLOWED_DOCUMENTS_LABEL},
                    )
                ],
            )
        if not extension_matches(filename, doc_type):
            raise ValidationFailed(
                code="file_type_mismatch",
                field_errors=[
                    FieldError(
                        "file",
                        N_("The file name's extension does not match its content (%(kind)s)."),
                        {"kind": doc_type.name},
                    )
                ],
            )
        placed = store.place(staged)
        doc = AgreementDocument(
            agreement_id=agreement.id,
            filename=sanitise_filename(filename, doc_type),
            content_type=doc_type.value,
            size_bytes=staged.size,
            sha256=staged.sha256,
            uploaded_at=clock.now(),
            uploaded_by_user_id=actor.user_id,
        )
        session.add(doc)
        session.flush()
        audit.record(
            session,
            actor,
            "agreement.document_upload",
            object_type="agreement_document",
            object_id=doc.id,
            detail={
                "agreement_id": agreement.id,
                "filename": doc.filename,
                "size_bytes": doc.size_bytes,
                "sha256": doc.sha256,
            },
        )
    except BaseException:
        store.discard(staged.temp_path)
        if placed:
            store.remove(staged.sha256)
        raise
    return doc


def open_document(
    session: Session, actor: Actor, document_id: int, store: DocumentStore
) -> tuple[AgreementDocument, Path]:
    """A document and where its bytes are, for those who may read its agreement."""
    doc = repository.document_by_id(session, document_id)
    if doc is None:
        raise NotFound(N_("No document with this number."))
    try:
        _visible_agreement(session, actor, doc.agreement_id)
    except NotFound as exc:
        raise NotFound(N_("No document with this number.")) from exc
    path = store.path_for(doc.sha256)
    if not path.is_file():
        log.error("document %s is missing from storage (%s)", doc.id, doc.sha256)
        raise NotFound(N_("The file of this document is missing from storage."))
    audit.record(
        session,
        actor,
        "agreement.document_download",
        object_type="agreement_document",
        object_id=doc.id,
        detail={"agreement_id": doc.agreement_id},
    )
    return doc, path
