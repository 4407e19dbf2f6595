"""Registry vocabularies (levels, grades, types, titles, specialties) and pure checks."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from medcircle.kit.i18n import N_


class Level(StrEnum):
    TERTIARY = "tertiary"
    SECONDARY = "secondary"
    PRIMARY = "primary"
    UNRATED = "unrated"


class Grade(StrEnum):
    A = "A"
    B = "B"
    C = "C"
    NONE = "none"


class InstitutionType(StrEnum):
    GENERAL = "general"
    CHILDRENS = "childrens"
    MATERNAL_CHILD = "maternal_child"
    TCM = "tcm"
    SPECIALISED = "specialised"
    PRIMARY_CARE = "primary_care"


class Title(StrEnum):
    CHIEF = "chief"
    ASSOCIATE_CHIEF = "associate_chief"
    ATTENDING = "attending"
    RESIDENT = "resident"


class DivisionLevel(StrEnum):
    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"


class CentreKind(StrEnum):
    INSPECTION = "inspection"
    IMAGING = "imaging"
    PATHOLOGY = "pathology"
    ECG = "ecg"
    DISINFECTION = "disinfection"
    TELEMEDICINE = "telemedicine"
    CRITICAL_CARE = "critical_care"
    TRAINING = "training"
    OTHER = "other"


LEVEL_LABELS = {
    Level.TERTIARY: N_("Tertiary"),
    Level.SECONDARY: N_("Secondary"),
    Level.PRIMARY: N_("Primary"),
    Level.UNRATED: N_("Unrated"),
}
GRADE_LABELS = {
    Grade.A: N_("Grade A"),
    Grade.B: N_("Grade B"),
    Grade.C: N_("Grade C"),
    Grade.NONE: N_("No grade"),
}
TYPE_LABELS = {
    InstitutionType.GENERAL: N_("General hospital"),
    InstitutionType.CHILDRENS: N_("Children's hospital"),
    InstitutionType.MATERNAL_CHILD: N_("Maternal and child health"),
    InstitutionType.TCM: N_("Traditional Chinese medicine"),
    InstitutionType.SPECIALISED: N_("Specialised hospital"),
    InstitutionType.PRIMARY_CARE: N_("Primary care clinic"),
}
TITLE_LABELS = {
    Title.CHIEF: N_("Chief physician"),
    Title.ASSOCIATE_CHIEF: N_("Associate chief physician"),
    Title.ATTENDING: N_("Attending physician"),
    Title.RESIDENT: N_("Resident physician"),
}
CENTRE_LABELS = {
    CentreKind.INSPECTION: N_("Regional inspection centre"),
    CentreKind.IMAGING: N_("Imaging centre"),
    CentreKind.PATHOLOGY: N_("Pathology centre"),
    CentreKind.ECG: N_("ECG diagnosis centre"),
    CentreKind.DISINFECTION: N_("Disinfection supply centre"),
    CentreKind.TELEMEDICINE: N_("Telemedicine centre"),
    CentreKind.CRITICAL_CARE: N_("Critical care transfer centre"),
    CentreKind.TRAINING: N_("Training centre"),
    CentreKind.OTHER: N_("Other centre"),
}


@dataclass(frozen=True)
class Specialty:
    code: str
    name_zh: str
    name_en: str


# The standard specialty list; codes are stable identifiers used across the platform.
SPECIALTIES: tuple[Specialty, ...] = (
    Specialty("ped_hem_onc", "小儿血液肿瘤科", "Paediatric haematology-oncology"),
    Specialty("neonatology", "新生儿科", "Neonatology"),
    Specialty("ped_surgery", "小儿外科", "Paediatric surgery"),
    Specialty("ped_cardiology", "小儿心脏科", "Paediatric cardiology"),
    Specialty("ped_respiratory", "小儿呼吸科", "Paediatric respiratory medicine"),
    Specialty("ped_neurology", "小儿神经科", "Paediatric neurology"),
    Specialty("ped_nephrology", "小儿肾脏科", "Paediatric nephrology"),
    Specialty("ped_gastro", "小儿消化科", "Paediatric gastroenterology"),
    Specialty("ped_icu", "儿童重症医学科", "Paediatric intensive care"),
    Specialty("stem_cell_transplant", "造血干细胞移植科", "Stem cell transplantation"),
    Specialty("cardiology", "心血管内科", "Cardiology"),
    Specialty("cardiac_surgery", "心脏外科", "Cardiac surgery"),
    Specialty("neurology", "神经内科", "Neurology"),
    Specialty("neurosurgery", "神经外科", "Neurosurgery"),
    Specialty("oncology", "肿瘤科", "Oncology"),
    Specialty("orthopaedics", "骨科", "Orthopaedics"),
    Specialty("obstetrics", "产科", "Obstetrics"),
    Specialty("gynaecology", "妇科", "Gynaecology"),
    Specialty("general_surgery", "普通外科", "General surgery"),
    Specialty("respiratory", "呼吸与危重症医学科", "Respiratory and critical care"),
    Specialty("gastroenterology", "消化内科", "Gastroenterology"),
    Specialty("nephrology", "肾内科", "Nephrology"),
    Specialty("endocrinology", "内分泌科", "Endocrinology"),
    Specialty("ophthalmology", "眼科", "Ophthalmology"),
    Specialty("ent", "耳鼻咽喉科", "Otorhinolaryngology"),
    Specialty("dermatology", "皮肤科", "Dermatology"),
    Specialty("emergency", "急诊科", "Emergency medicine"),
    Specialty("icu", "重症医学科", "Critical care medicine"),
    Specialty("anaesthesiology", "麻醉科", "Anaesthesiology"),
    Specialty("radiology", "放射科", "Radiology"),
    Specialty("laboratory", "检验科", "Laboratory medicine"),
    Specialty("pathology", "病理科", "Pathology"),
    Specialty("rehabilitation", "康复医学科", "Rehabilitation medicine"),
    Specialty("psychiatry", "精神科", "Psychiatry"),
    Specialty("tcm", "中医科", "Traditional Chinese medicine"),
    Specialty("stomatology", "口腔科", "Stomatology"),
    Specialty("urology", "泌尿外科", "Urology"),
    Specialty("infectious", "感染科", "Infectious diseases"),
    Specialty("general_practice", "全科医学科", "General practice"),
)
SPECIALTY_BY_CODE: dict[str, Specialty] = {s.code: s for s in SPECIALTIES}

CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,31}$")
ADCODE_RE = re.compile(r"^\d{6}$")


def normalise_code(code: str) -> str:
    """Institution and alliance short codes are upper-case ASCII, digits and hyphens."""
    return code.strip().upper()


def is_valid_code(code: str) -> bool:
    return bool(CODE_RE.match(code))


def adcode_parts(adcode: str) -> tuple[str, str, str]:
    """The province, city and county codes that an administrative division code implies."""
    return adcode[:2] + "0000", adcode[:4] + "00", adcode


def division_level(adcode: str) -> DivisionLevel:
    if adcode.endswith("0000"):
        return DivisionLevel.PROVINCE
    if adcode.endswith("00"):
        return DivisionLevel.CITY
    return DivisionLevel.COUNTY


def membership_active(joined_on: date, left_on: date | None, on: date) -> bool:
    """A member counts on ``on`` from the day it joined until the day before it left."""
    return joined_on <= on and (left_on is None or on < left_on)


LATITUDE_RANGE = (-90.0, 90.0)
LONGITUDE_RANGE = (-180.0, 180.0)
# Fields of an institution that only a platform admin may change on an institution.
RESTRICTED_INSTITUTION_FIELDS: frozenset[str] = frozenset({"code", "level", "grade", "parent_id"})


def latitude_ok(value: float) -> bool:
    """A latitude in degrees lies between -90 and 90."""
    return LATITUDE_RANGE[0] <= value <= LATITUDE_RANGE[1]


def longitude_ok(value: float) -> bool:
    """A longitude in degrees lies between -180 and 180."""
    return LONGITUDE_RANGE[0] <= value <= LONGITUDE_RANGE[1]


def creates_cycle(
    institution_id: int | None, parent_id: int, parent_of: Mapping[int, int | None]
) -> bool:
    """Whether making ``parent_id`` the parent of ``institution_id`` closes a loop.

    ``parent_of`` maps institutions to their current parent; a new institution (``None``)
    cannot be part of a loop. The walk stops on a loop already present in the data.
    """
    if institution_id is None:
        return False
    seen: set[int] = set()
    current: int | None = parent_id
    while current is not None and current not in seen:
        if current == institution_id:
            return True
        seen.add(current)
        current = parent_of.get(current)
    return False


def periods_overlap(start_a: date, end_a: date | None, start_b: date, end_b: date | None) -> bool:
    """Whether two half-open periods [start, end) share a day (``None`` = still open)."""
    return (end_b is None or start_a < end_b) and (end_a is None or start_b < end_a)


def leave_after_join(joined_on: date, left_on: date | None) -> bool:
    """A member leaves after the day it joined (or has not left)."""
    return left_on is None or left_on > joined_on


def rename_allowed(current_from: date | None, valid_from: date) -> bool:
    """A new licensed name starts after the day the current one started."""
    return current_from is None or valid_from > current_from
