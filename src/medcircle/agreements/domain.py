"""Rules of agreements: kinds, specialty counts, terms, activity on a date, overdue goals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from medcircle.kit.i18n import N_


class AgreementKind(StrEnum):
    SPECIALTY_SUPPORT = "specialty_support"
    TRUSTEESHIP = "trusteeship"
    DEPARTMENTAL_EXCHANGE = "departmental_exchange"


class GoalStatus(StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    ACHIEVED = "achieved"
    MISSED = "missed"
    DROPPED = "dropped"


class AgreementStatus(StrEnum):
    UPCOMING = "upcoming"
    ACTIVE = "active"
    ENDED = "ended"
    TERMINATED = "terminated"


KIND_LABELS = {
    AgreementKind.SPECIALTY_SUPPORT: N_("Specialty support"),
    AgreementKind.TRUSTEESHIP: N_("Trusteeship"),
    AgreementKind.DEPARTMENTAL_EXCHANGE: N_("Departmental exchange"),
}
GOAL_STATUS_LABELS = {
    GoalStatus.PLANNED: N_("Planned"),
    GoalStatus.IN_PROGRESS: N_("In progress"),
    GoalStatus.ACHIEVED: N_("Achieved"),
    GoalStatus.MISSED: N_("Missed"),
    GoalStatus.DROPPED: N_("Dropped"),
}
STATUS_LABELS = {
    AgreementStatus.UPCOMING: N_("Upcoming"),
    AgreementStatus.ACTIVE: N_("Active"),
    AgreementStatus.ENDED: N_("Ended"),
    AgreementStatus.TERMINATED: N_("Terminated"),
}

SPECIALTY_SUPPORT_MIN = 2
SPECIALTY_SUPPORT_MAX = 4
TERM_MIN_YEARS = 3
TERM_MAX_YEARS = 5
ENDING_SOON_MONTHS = 6
OPEN_GOAL_STATUSES = frozenset({GoalStatus.PLANNED, GoalStatus.IN_PROGRESS})

# Stable message ids of the errors other layers and tests refer to.
SPECIALTY_COUNT_MESSAGE = N_("Specialty support covers 2 to 4 specialties; %(count)s were given.")
SAME_PARTY_MESSAGE = N_("The supporting and the supported institution must be different.")
DATES_ORDER_MESSAGE = N_("The end date must be after the start date.")


@dataclass(frozen=True)
class Problem:
    """A message about one field: an error refuses the agreement, a warning only informs."""

    field: str
    message: str
    params: tuple[tuple[str, object], ...] = ()
    code: str = "invalid"

    @property
    def params_dict(self) -> dict[str, object]:
        return dict(self.params)


@dataclass(frozen=True)
class AgreementTerms:
    kind: AgreementKind
    supporting_institution_id: int
    supported_institution_id: int
    starts_on: date
    ends_on: date
    specialty_codes: tuple[str, ...]
    licensed_name_zh: str | None = None


def add_years(d: date, years: int) -> date:
    """The same day ``years`` later (28 February for 29 February in a common year)."""
    try:
        return d.replace(year=d.year + years)
    except ValueError:
        return d.replace(year=d.year + years, day=28)


def add_months(d: date, months: int) -> date:
    month0 = d.month - 1 + months
    year, month = d.year + month0 // 12, month0 % 12 + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def term_errors(terms: AgreementTerms) -> list[Problem]:
    """What makes an agreement impossible to record."""
    errors: list[Problem] = []
    if terms.supporting_institution_id == terms.supported_institution_id:
        errors.append(
            Problem("supported_institution_id", SAME_PARTY_MESSAGE, code="same_institution")
        )
    if terms.ends_on <= terms.starts_on:
        errors.append(Problem("ends_on", DATES_ORDER_MESSAGE, code="dates_out_of_order"))
    if len(set(terms.specialty_codes)) != len(terms.specialty_codes):
        errors.append(
            Problem("specialties", N_("A specialty is listed twice."), code="duplicate_specialty")
        )
    n = len(set(terms.specialty_codes))
    if terms.kind is AgreementKind.SPECIALTY_SUPPORT and not (
        SPECIALTY_SUPPORT_MIN <= n <= SPECIALTY_SUPPORT_MAX
    ):
        errors.append(
            Problem(
                "specialties",
                SPECIALTY_COUNT_MESSAGE,
                (("count", n),),
                code="specialty_count",
            )
        )
    if terms.kind is AgreementKind.DEPARTMENTAL_EXCHANGE and n < 1:
        errors.append(
            Problem(
                "specialties",
                N_("A departmental exchange names at least one specialty."),
                code="specialty_count",
            )
        )
    return errors


def term_warnings(terms: AgreementTerms) -> list[Problem]:
    """What is allowed but unusual: a term outside 3 to 5 years."""
    warnings: list[Problem] = []
    if terms.ends_on > terms.starts_on and not (
        add_years(terms.starts_on, TERM_MIN_YEARS)
        <= terms.ends_on
        <= add_years(terms.starts_on, TERM_MAX_YEARS)
    ):
        warnings.append(
            Problem(
                "ends_on",
                N_("Cooperation agreements usually run 3 to 5 years; this one runs %(days)s days."),
                (("days", (terms.ends_on - terms.starts_on).days),),
                code="unusual_term",
            )
        )
    if terms.kind is AgreementKind.TRUSTEESHIP and not terms.licensed_name_zh:
        warnings.append(
            Problem(
                "licensed_name_zh",
                N_("A trusteeship usually gives the supported hospital a licensed name."),
                code="licensed_name_missing",
            )
        )
    return warnings


def status_on(
    starts_on: date, ends_on: date, terminated_on: date | None, on: date
) -> AgreementStatus:
    """Where an agreement stands on a date (it runs from start to the day before its end)."""
    if terminated_on is not None and terminated_on <= on:
        return AgreementStatus.TERMINATED
    if on < starts_on:
        return AgreementStatus.UPCOMING
    if on >= ends_on:
        return AgreementStatus.ENDED
    return AgreementStatus.ACTIVE


def ends_soon(ends_on: date, terminated_on: date | None, on: date) -> bool:
    """Active and ending within the next six months."""
    return terminated_on is None and on < ends_on <= add_months(on, ENDING_SOON_MONTHS)


def goal_overdue(status: GoalStatus, due_on: date, on: date) -> bool:
    """An open goal whose due date has passed."""
    return status in OPEN_GOAL_STATUSES and due_on < on


def goal_errors(
    status: GoalStatus, achieved_on: date | None, due_on: date, today: date
) -> list[Problem]:
    """What makes a goal's status impossible: an achievement date only for achieved goals,
    and never in the future."""
    errors: list[Problem] = []
    if status is GoalStatus.ACHIEVED and achieved_on is None:
        errors.append(Problem("achieved_on", N_("Give the date the goal was achieved.")))
    if status is not GoalStatus.ACHIEVED and achieved_on is not None:
        errors.append(Problem("achieved_on", N_("Only an achieved goal has an achievement date.")))
    if achieved_on is not None and achieved_on > today:
        errors.append(Problem("achieved_on", N_("The achievement date cannot be in the future.")))
    return errors


# --- attached documents -------------------------------------------------------------------


class DocumentType(StrEnum):
    PDF = "application/pdf"
    PNG = "image/png"
    JPEG = "image/jpeg"
    DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    ODT = "application/vnd.oasis.opendocument.text"
    TEXT = "text/plain"


DOCUMENT_EXTENSIONS: dict[DocumentType, tuple[str, ...]] = {
    DocumentType.PDF: (".pdf",),
    DocumentType.PNG: (".png",),
    DocumentType.JPEG: (".jpg", ".jpeg"),
    DocumentType.DOCX: (".docx",),
    DocumentType.XLSX: (".xlsx",),
    DocumentType.ODT: (".odt",),
    DocumentType.TEXT: (".txt", ".text", ".csv", ".md"),
}
ALLOWED_DOCUMENTS_LABEL = "PDF, PNG, JPEG, DOCX, XLSX, ODT, TXT"
ZIP_MAGIC = b"PK\x03\x04"
_ODT_MIMETYPE = b"mimetypeapplication/vnd.oasis.opendocument.text"


def is_zip(head: bytes) -> bool:
    return head.startswith(ZIP_MAGIC)


def detect_document_type(
    head: bytes, zip_names: frozenset[str] = frozenset()
) -> DocumentType | None:
    """The type of a file judged by its first bytes (and, for ZIP-based office files, the
    names inside the archive); None when it is not an allowed type."""
    if head.startswith(b"%PDF-"):
        return DocumentType.PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return DocumentType.PNG
    if head.startswith(b"\xff\xd8\xff"):
        return DocumentType.JPEG
    if is_zip(head):
        # ODF puts an uncompressed "mimetype" entry first (local header is 30 bytes long)
        if head[30 : 30 + len(_ODT_MIMETYPE)] == _ODT_MIMETYPE:
            return DocumentType.ODT
        if "[Content_Types].xml" in zip_names:
            if any(n.startswith("word/") for n in zip_names):
                return DocumentType.DOCX
            if any(n.startswith("xl/") for n in zip_names):
                return DocumentType.XLSX
        return None
    if head and _looks_like_text(head):
        return DocumentType.TEXT
    return None


def _looks_like_text(head: bytes) -> bool:
    """UTF-8 text without control characters other than tab, line breaks and form feed."""
    import codecs

    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return not any(ord(c) < 32 and c not in "\t\n\r\f" for c in text) and "\x7f" not in text


def extension_of(filename: str) -> str:
    dot = filename.rfind(".")
    return filename[dot:].lower() if dot > 0 else ""


def extension_matches(filename: str, doc_type: DocumentType) -> bool:
    """A file name without an extension is fine; one with an extension must match the content."""
    ext = extension_of(filename)
    return not ext or ext in DOCUMENT_EXTENSIONS[doc_type]


FILENAME_MAX = 200


def sanitise_filename(raw: str, doc_type: DocumentType) -> str:
    """A safe display name: no folders, no control or format characters, no leading dots,
    at most 200 characters, and an extension that matches the content."""
    import unicodedata

    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        c for c in name if unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp")
    )
    name = " ".join(name.split()).strip(" .")
    for ch in '<>:"|?*':
        name = name.replace(ch, "_")
    ext = extension_of(name)
    if ext not in DOCUMENT_EXTENSIONS[doc_type]:
        ext = DOCUMENT_EXTENSIONS[doc_type][0]
        stem = name
    else:
        stem = name[: -len(ext)]
    stem = stem.strip(" .")[: FILENAME_MAX - len(ext)] or "document"
    return stem + ext


EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2199, 12, 31)


def date_errors(**days: date | None) -> list[Problem]:
    """Dates outside 1900–2199 are typing mistakes, and would break date arithmetic."""
    return [
        Problem(
            name,
            N_("Enter a date between %(first)s and %(last)s."),
            (("first", EARLIEST_DAY.isoformat()), ("last", LATEST_DAY.isoformat())),
            code="date_out_of_range",
        )
        for name, day in days.items()
        if day is not None and not EARLIEST_DAY <= day <= LATEST_DAY
    ]
