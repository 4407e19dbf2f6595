"""Translation catalogues (Babel .po files) chosen per request.

Message ids are English, so English is complete by construction; ``locale/zh_Hans`` holds
the Simplified Chinese catalogue, one .po file per area (``core.po``, ``registry.po``, …),
merged and compiled in memory at start-up, so no build step is needed. A test extracts every
message from the code and templates and fails on any without a translation.
"""

from __future__ import annotations

import io
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALES: tuple[str, ...] = ("zh_Hans", "en")
LOCALE_LABELS: dict[str, str] = {"zh_Hans": "简体中文", "en": "English"}
DEFAULT_LOCALE = "zh_Hans"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"

_current: ContextVar[str] = ContextVar("medcircle_locale", default=DEFAULT_LOCALE)


def normalise_locale(value: str | None) -> str | None:
    """Map a user's or browser's language tag to a supported locale, or None."""
    if not value:
        return None
    tag = value.strip().replace("-", "_").lower()
    if tag.startswith("zh"):
        return "zh_Hans"
    if tag.startswith("en"):
        return "en"
    return None


def negotiate(accept_language: str | None) -> str | None:
    """The first supported locale in an Accept-Language header."""
    if not accept_language:
        return None
    for part in accept_language.split(","):
        found = normalise_locale(part.split(";")[0])
        if found:
            return found
    return None


CORE_CATALOG = "core.po"


def catalog_files(locale: str) -> list[Path]:
    """A locale's catalogue is every .po file in its folder (one per area of the platform),
    the shared ``core.po`` first, so its wording of shared messages is the one used."""
    files = sorted((LOCALE_DIR / locale / "LC_MESSAGES").glob("*.po"))
    return sorted(files, key=lambda p: (p.name != CORE_CATALOG, p.name))


@lru_cache(maxsize=len(LOCALES))
def translations(locale: str) -> Translations:
    """The compiled catalogue of one locale (all its .po files merged)."""
    merged: Catalog | None = None
    for po_path in catalog_files(locale):
        with po_path.open("rb") as fh:
            part = read_po(fh, locale=locale.replace("_Hans", ""))
        if merged is None:
            merged = part
            continue
        for message in part:
            if not message.id or not message.string:
                continue
            # the first translation of a message wins (assigning to an existing entry of a
            # Babel catalogue would merge its locations only, never its text)
            existing = merged.get(message.id)
            if existing is None:
                merged[message.id] = message
            elif not existing.string:
                existing.string = message.string
    if merged is None:
        return Translations()
    buf = io.BytesIO()
    write_mo(buf, merged)
    buf.seek(0)
    return Translations(buf)


def set_locale(locale: str) -> None:
    _current.set(locale if locale in LOCALES else DEFAULT_LOCALE)


def get_locale() -> str:
    return _current.get()


def gettext(message: str, **params: Any) -> str:
    """Translate ``message`` into the current locale and fill in ``%(name)s`` parameters."""
    text: str = translations(get_locale()).ugettext(message)
    return text % params if params else text


def ngettext(singular: str, plural: str, n: int, **params: Any) -> str:
    text: str = translations(get_locale()).ungettext(singular, plural, n)
    params.setdefault("num", n)
    return text % params


_ = gettext


def N_(message: str) -> str:
    """Mark a message for extraction without translating it now."""
    return message
