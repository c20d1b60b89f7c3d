"""The public page's rendering shortcuts change nothing: messages translated when a template
is compiled (``i18n.FoldTranslations``) and the cheaper ``{{ mapping.key }}`` give exactly the
output of a plain Jinja2 environment with runtime gettext."""

from __future__ import annotations

from typing import Any

import pytest
from jinja2 import Environment, FileSystemLoader, select_autoescape

from robopass.web import i18n, public


def plain(locale: str) -> Environment:
    env = Environment(loader=FileSystemLoader(i18n.TEMPLATE_DIR),
                      autoescape=select_autoescape(["html", "xml"]),
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_translations(i18n.translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(locale=locale, html_lang=i18n.HTML_LANG[locale],
                       native_names=i18n.NATIVE_NAMES, locales=i18n.LOCALES)
    return env


def contexts(locale: str) -> list[dict[str, Any]]:
    code = "CN" + "0" * 27
    registered = {"code": code, "format_valid": True, "registered": True, "status": "sold",
                  "model": {"name": "Walker <b>", "model_code": "W1", "status": "revoked"},
                  "manufacturer": {"name": "Acme & Co", "company_code": "AC", "country": "DE"},
                  "open_recalls": [{"id": "r1", "reason": "Knee"}], "registry": "CN",
                  "reason_code": "model_revoked", "imported_from": "DE", "via_peer": True}
    summary = {"production_month_text": "March 2026", "owners": 2, "maintenance_count": 1,
               "incidents": 0, "battery_text": "Fair"}
    links = [{"locale": lo, "name": i18n.NATIVE_NAMES[lo], "html_lang": i18n.HTML_LANG[lo],
              "current": lo == locale, "href": f"/r/x?a=%3C&lang={lo}"}
             for lo in i18n.LOCALES]
    base = {"language_links": links, "compact": code, "suggestion": None}
    return [
        {**base, "input": "<script>", "result": {"registered": False, "format_valid": False},
         "verdict": "not_genuine", "display_code": None, "reason": "a < b",
         "recalls": [], "summary": None},
        {**base, "input": code, "result": registered, "verdict": "warning",
         "display_code": "CN-0000", "reason": "x", "status_text": "Sold",
         "model_status_text": "Revoked", "recalls": registered["open_recalls"],
         "summary": summary, "suggestion": code, "suggestion_display": "CN-0"},
        {**base, "input": code, "result": {**registered, "via_peer": False}, "verdict": "genuine",
         "display_code": "CN-0000", "reason": None, "recalls": [], "summary": summary},
        {**base, "input": code, "result": {"registered": False, "format_valid": True},
         "verdict": "unknown", "display_code": "CN-0000", "reason": "x", "recalls": [],
         "summary": None},
    ]


@pytest.mark.parametrize("locale", i18n.LOCALES)
@pytest.mark.parametrize("template", ["public.html", "lookup.html"])
def test_same_html_as_a_plain_environment(locale: str, template: str) -> None:
    reference = plain(locale).get_template(template)
    fast = i18n.environment(locale).get_template(template)
    for context in contexts(locale):
        assert fast.render(**context) == reference.render(**context)


def test_constant_messages_are_translated_at_compile_time() -> None:
    env = i18n.environment("zh_CN")
    source = ('{{ _("Genuine") }}|{{ _("Answered by the %(country)s registry; its signed '
              'passport was verified.", country="<DE>") }}|{{ _(x) }}|{{ _("a %% b") }}')
    compiled = env.compile(source, raw=True)
    assert "Genuine" not in compiled and i18n.translations("zh_CN").gettext("Genuine") in compiled
    reference = plain("zh_CN").from_string(source)
    assert env.from_string(source).render(x="Genuine") == reference.render(x="Genuine")
    assert env.from_string(source).render(x="Genuine").endswith("|a % b")


def test_mapping_keys_that_shadow_dict_attributes_still_resolve_like_jinja() -> None:
    source = "{{ d.items is callable }} {{ d.name }} {{ d.missing is defined }} {{ o.real }}"
    context = {"d": {"items": 1, "name": "n"}, "o": 3}
    assert (i18n.environment("en").from_string(source).render(**context)
            == plain("en").from_string(source).render(**context) == "True n False 3")


def test_month_names_are_cached_but_unchanged() -> None:
    public.month_text.cache_clear()
    assert public.month_text("2026-03", "en") == "March 2026"
    assert public.month_text("2026-03", "en") == "March 2026"
    assert public.month_text("bad", "en") == "bad" and public.month_text(None, "en") is None
