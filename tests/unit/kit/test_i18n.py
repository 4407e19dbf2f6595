"""Every message in the code and templates has a Simplified Chinese translation."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir

from medcircle.kit import i18n

ROOT = Path(__file__).resolve().parents[3]
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None}


Message = str | tuple[str, str]


def extracted_messages() -> dict[Message, str]:
    """msgid (a pair of singular and plural for a count's message) → first place it appears."""
    found: dict[Message, str] = {}
    method_map = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    for filename, lineno, message, _comments, _ctx in extract_from_dir(
        str(ROOT / "src"), method_map=method_map, options_map=options, keywords=KEYWORDS
    ):
        if isinstance(message, tuple):
            found.setdefault((message[0], message[1]), f"{filename}:{lineno}")
        elif message:
            found.setdefault(message, f"{filename}:{lineno}")
    return found


def translated(catalog: i18n.Translations, mid: Message) -> str:
    """The translation of a message (of a count's message, its form for many)."""
    if isinstance(mid, tuple):
        text: str = catalog.ungettext(mid[0], mid[1], 2)
        return text
    return str(catalog.ugettext(mid))


def source(mid: Message) -> str:
    return mid[1] if isinstance(mid, tuple) else mid


def test_messages_are_extracted() -> None:
    messages = extracted_messages()
    assert "Log in to medcircle" in messages
    assert len(messages) > 50


def test_simplified_chinese_is_complete() -> None:
    i18n.translations.cache_clear()
    catalog = i18n.translations("zh_Hans")
    missing = [
        f"{where}: {mid!r}"
        for mid, where in sorted(extracted_messages().items(), key=lambda kv: str(kv[0]))
        if translated(catalog, mid) == source(mid)
    ]
    assert not missing, f"{len(missing)} messages lack a zh_Hans translation:\n" + "\n".join(
        missing[:400]
    )


@pytest.mark.parametrize("locale", ["zh_Hans"])
def test_placeholders_survive_translation(locale: str) -> None:
    """A translation keeps every %(name)s placeholder of its message id."""
    import re

    i18n.translations.cache_clear()
    catalog = i18n.translations(locale)
    pattern = re.compile(r"%\([a-z_]+\)[sd]|%\([a-z_]+\)\.\d+f")
    bad = []
    for mid in extracted_messages():
        text, original = translated(catalog, mid), source(mid)
        if text != original and sorted(pattern.findall(text)) != sorted(pattern.findall(original)):
            bad.append(f"{mid!r} -> {text!r}")
    assert not bad, "\n".join(bad)
