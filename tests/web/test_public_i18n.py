"""The message catalogues: complete in zh_CN and en, placeholders intact, in sync with code."""

from __future__ import annotations

import re

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from robopass.web import i18n

PLACEHOLDER = re.compile(r"%\(\w+\)s")


def catalogue(locale: str):  # type: ignore[no-untyped-def]
    with i18n.po_path(locale).open("rb") as fh:
        return read_po(fh, locale=locale)


#: The public page's sources (other pages are checked by their own tests).
PUBLIC_SOURCES = {"templates/base.html", "templates/_lookup_form.html", "templates/lookup.html",
                  "templates/public.html", "public.py", "i18n.py"}


def extracted() -> set[str]:
    web = i18n.TEMPLATE_DIR.parent
    found = set()
    for filename, _l, message, _c, _ctx in extract_from_dir(
            web, [("templates/**.html", "jinja2"), ("**.py", "python")],
            {"templates/**.html": {"extensions": "jinja2.ext.i18n"}},
            keywords={"_": None, "N_": None, "gettext": None}):
        if filename.replace("\\", "/") in PUBLIC_SOURCES:
            found.add(message)
    return found


def test_public_page_is_fully_translated_in_both_languages() -> None:
    wanted = extracted()
    assert len(wanted) > 50
    for locale in i18n.LOCALES:
        cat = catalogue(locale)
        ids = {m.id for m in cat if m.id}
        assert wanted <= ids, f"{locale} lacks {sorted(wanted - ids)[:5]}: run extract"
        for m in cat:
            if not m.id or m.id not in wanted:
                continue
            assert m.string, f"{locale}: {m.id!r} is untranslated"
            assert not m.fuzzy, f"{locale}: {m.id!r} is fuzzy"
            assert sorted(PLACEHOLDER.findall(m.id)) == sorted(PLACEHOLDER.findall(m.string)), m.id


def test_chinese_is_really_chinese() -> None:
    tr = i18n.translations("zh_CN")
    assert tr.gettext("Genuine") == "正品"
    assert tr.gettext("Production month") == "生产年月"


def test_accept_language_parsing() -> None:
    assert i18n.from_accept_language("zh-CN,zh;q=0.9,en;q=0.8") == "zh_CN"
    assert i18n.from_accept_language("en;q=0.4, zh-TW;q=0.9") == "zh_CN"
    assert i18n.from_accept_language("de-DE, en;q=0.5") == "en"
    assert i18n.from_accept_language("de-DE") is None
    assert i18n.from_accept_language("zh;q=0, en") == "en"
    assert i18n.from_accept_language("en;q=abc, zh") == "zh_CN"
    assert i18n.choose("en", "zh_CN", "zh") == "en"
    assert i18n.choose(None, "zh_CN", "en") == "zh_CN"
    assert i18n.choose("xx", None, None) == i18n.DEFAULT_LOCALE
