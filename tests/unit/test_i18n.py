"""Every portal string is in the catalogue, and English has a translation for each one."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir

from frontend.i18n import pick_language, translations

ROOT = Path(__file__).resolve().parents[2]


def _template_messages() -> set[str]:
    found = extract_from_dir(
        str(ROOT / "frontend"),
        method_map=[("templates/**.html", "jinja2"), ("**.py", "python")],
        options_map={"templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}},
    )
    ids: set[str] = set()
    for _file, _line, message, _comments, _ctx in found:
        ids.add(message if isinstance(message, str) else message[0])
    return ids


def test_every_template_string_has_an_english_translation() -> None:
    messages = _template_messages()
    assert len(messages) > 50, "extraction found suspiciously few strings"
    english = translations("en")
    untranslated = sorted(
        m for m in messages if english.gettext(m) == m and m not in ("Status", "PDF")
    )
    assert untranslated == [], (
        f"add these to a .po file in frontend/locale/en/LC_MESSAGES/: {untranslated}"
    )


def test_german_is_the_default_and_only_known_languages_are_picked() -> None:
    assert pick_language(None) == "de"
    assert pick_language("en") == "en"
    assert pick_language("fr") == "de"
    assert translations("de").gettext("Weiter") == "Weiter"
    assert translations("en").gettext("Weiter") == "Continue"


def test_no_message_id_is_translated_two_ways() -> None:
    """Every *.po of a language is merged into one catalogue: a message id translated twice would
    take whichever file loads last, silently changing another area's text."""
    import re
    from collections import defaultdict
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "frontend" / "locale" / "en" / "LC_MESSAGES"
    seen: dict[str, set[str]] = defaultdict(set)
    for po in sorted(folder.glob("*.po")):
        text = po.read_text(encoding="utf-8")
        for found in re.finditer(r'^msgid "(.+)"\nmsgstr "(.*)"', text, re.MULTILINE):
            seen[found.group(1)].add(found.group(2))
    assert {k: v for k, v in seen.items() if len(v) > 1} == {}
