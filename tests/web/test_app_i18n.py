"""The signed-in pages' catalogue ``app.po``: complete in zh_CN and en, in sync with the code,
placeholders intact, and merged with the public catalogue at lookup."""

from __future__ import annotations

import re

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from robopass.web import i18n

PLACEHOLDER = re.compile(r"%\(\w+\)s")


def app_messages() -> set[str]:
    web = i18n.TEMPLATE_DIR.parent
    found = set()
    for filename, _l, message, _c, _ctx in extract_from_dir(
            web, [("templates/**.html", "jinja2"), ("**.py", "python")],
            {"templates/**.html": {"extensions": "jinja2.ext.i18n"}},
            keywords={"_": None, "N_": None, "gettext": None}):
        if i18n.domain_of(filename) == "app":
            found.add(message)
    return found


def test_app_catalogue_is_complete_in_both_languages() -> None:
    wanted = app_messages()
    assert len(wanted) > 150
    for locale in i18n.LOCALES:
        with i18n.po_path(locale, "app").open("rb") as fh:
            cat = read_po(fh, locale=locale)
        ids = {m.id for m in cat if m.id}
        assert wanted <= ids, f"{locale} lacks {sorted(wanted - ids)[:5]}: run extract"
        for m in cat:
            if not m.id:
                continue
            assert m.string, f"{locale}: {m.id!r} is untranslated"
            assert not m.fuzzy, f"{locale}: {m.id!r} is fuzzy"
            assert sorted(PLACEHOLDER.findall(m.id)) == sorted(PLACEHOLDER.findall(m.string)), m.id
            # Jinja's newstyle gettext always applies "%": a stray % would break the page
            values = {name[2:-2]: "x" for name in PLACEHOLDER.findall(m.string)}
            assert isinstance(m.string % values, str), m.id


def test_both_catalogues_are_merged() -> None:
    zh = i18n.translations("zh_CN")
    assert zh.gettext("Genuine") == "正品"  # public catalogue
    assert zh.gettext("Regulator dashboard") == "监管看板"  # app catalogue
    assert zh.gettext("Supply chain") == "供应链"
    assert i18n.translations("en").gettext("Supply chain") == "Supply chain"


def test_files_go_to_the_right_catalogue() -> None:
    assert i18n.domain_of("templates/app/dashboard.html") == "app"
    assert i18n.domain_of("app/portal.py") == "app"
    assert i18n.domain_of("templates/public.html") == "messages"
    assert i18n.domain_of("public.py") == "messages"
