"""Reading page forms and turning refusals into messages by the field, for every domain's pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any, ClassVar

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from medcircle.kit.clock import CST
from medcircle.kit.errors import Conflict, DomainError
from medcircle.kit.i18n import N_, gettext

REQUIRED = N_("This field is required.")
TOO_LONG = N_("This text is too long.")
CHECK_VALUE = N_("Check this value.")
BAD_DATE = N_("Enter a date as YYYY-MM-DD.")
BAD_NUMBER = N_("Enter a whole number.")
BAD_DATETIME = N_("Enter a date and time.")


@dataclass
class FormValues:
    """The submitted form: single values and repeated ones (checkboxes)."""

    values: dict[str, list[str]] = field(default_factory=dict)

    def get(self, name: str) -> str:
        found = self.values.get(name)
        return found[0].strip() if found else ""

    def getlist(self, name: str) -> list[str]:
        return [v.strip() for v in self.values.get(name, []) if v.strip()]


async def read_form(request: Request) -> FormValues:
    form = await request.form()
    values: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            values.setdefault(key, []).append(value)
    return FormValues(values)


Form = Annotated[FormValues, Depends(read_form)]


class Errors(dict[str, list[str]]):
    """Messages per form field, already translated. ``field_names`` maps the service's field
    names to the names the form shows them under (a subclass per form family)."""

    field_names: ClassVar[dict[str, str]] = {}

    def add(self, name: str, message: str, **params: Any) -> None:
        self.setdefault(self.field_names.get(name, name), []).append(gettext(message, **params))

    def from_domain(self, exc: DomainError) -> None:
        if not exc.field_errors:
            self.setdefault("_form", []).append(exc.text())
        for fe in exc.field_errors:
            name = fe.field.split(".")[0] if fe.field else "_form"
            self.setdefault(self.field_names.get(name, name), []).append(fe.text())

    def pydantic_message(self, name: str, kind: str) -> str:
        """The message for one of pydantic's error kinds on ``name``."""
        if kind in ("missing", "string_too_short"):
            return REQUIRED
        if kind == "string_too_long":
            return TOO_LONG
        return CHECK_VALUE

    def from_pydantic(self, exc: ValidationError) -> None:
        for e in exc.errors():
            name = str(e["loc"][0]) if e["loc"] else "_form"
            self.add(name, self.pydantic_message(name, e["type"]))


def build(model: type[BaseModel], values: dict[str, Any], errors: Errors) -> Any:
    """``model`` from the form's values, or None with the reasons added to ``errors``."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        errors.from_pydantic(exc)
        return None


def refusal_status(session: Session, exc: DomainError, errors: Errors | None = None) -> int:
    """A refusal the user can correct on the page: the request's changes are rolled back, its
    reasons go by their fields in ``errors`` (when given) and the page answers 409 for a
    conflict, else 422. Access refusals (401, 403, 404) are raised again, for the error page."""
    if exc.status in (401, 403, 404):
        raise exc
    session.rollback()
    if errors is not None:
        errors.from_domain(exc)
    return 409 if isinstance(exc, Conflict) else 422


def form_date(form: FormValues, name: str, errors: Errors, required: bool = False) -> date | None:
    raw = form.get(name)
    if not raw:
        if required:
            errors.add(name, REQUIRED)
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.add(name, BAD_DATE)
        return None


def form_int(form: FormValues, name: str, errors: Errors, required: bool = False) -> int | None:
    raw = form.get(name)
    if not raw:
        if required:
            errors.add(name, REQUIRED)
        return None
    try:
        return int(raw)
    except ValueError:
        errors.add(name, BAD_NUMBER)
        return None


def form_local_datetime(
    form: FormValues, name: str, errors: Errors, required: bool = False
) -> datetime | None:
    """A ``datetime-local`` field typed in China Standard Time, as an aware value."""
    raw = form.get(name)
    if not raw:
        if required:
            errors.add(name, REQUIRED)
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        errors.add(name, BAD_DATETIME)
        return None
    if not 2000 <= value.year <= 2999:
        errors.add(name, BAD_DATETIME)
        return None
    return value.replace(tzinfo=CST) if value.tzinfo is None else value
