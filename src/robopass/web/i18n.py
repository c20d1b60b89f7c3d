"""Languages of the web UI (SPEC §9): Simplified Chinese and English from gettext catalogues.

Catalogues live in ``robopass/locale/<locale>/LC_MESSAGES/messages.po`` (package data). They are
compiled in memory on first use (Babel ``read_po`` → ``write_mo`` → ``GNUTranslations``), so a
fresh ``pip install -e .`` works without a build step and an edited ``.po`` shows after a restart.

The language of a request is, in order: ``?lang=`` (which the page then remembers in the
``robopass_lang`` cookie), the cookie, ``Accept-Language`` (quality values honoured; any ``zh``
tag → ``zh_CN``, any ``en`` tag → ``en``), else :data:`DEFAULT_LOCALE`.

To add a message: write ``{{ _("...") }}`` in a template or ``_("...")``/``N_("...")`` in
``robopass/web`` Python, then run ``python -m robopass.web.i18n extract`` (updates the
catalogues; new entries arrive untranslated) and translate them in the ``.po`` files. The test
``tests/web/test_public_i18n.py`` fails while any message lacks a translation.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from jinja2 import Environment, FileSystemLoader, select_autoescape
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "en"
COOKIE = "robopass_lang"
#: How each language names itself, for the switcher.
NATIVE_NAMES = {"zh_CN": "简体中文", "en": "English"}
HTML_LANG = {"zh_CN": "zh-Hans", "en": "en"}


def N_(message: str) -> str:  # noqa: N802 (gettext convention)
    """Mark a string for extraction without translating it now."""
    return message


#: Catalogues: ``messages`` (public pages) and ``app`` (signed-in pages: templates under
#: ``templates/app/`` and code under ``web/app/``), merged at lookup.
DOMAINS = ("messages", "app")


def domain_of(filename: str) -> str:
    """The catalogue a source file's messages go to (path relative to ``robopass/web``)."""
    name = filename.replace("\\", "/")
    return "app" if name.startswith(("templates/app/", "app/")) else "messages"


def po_path(locale: str, domain: str = "messages") -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{domain}.po"


def _compile(path: Path, locale: str) -> gettext.GNUTranslations:
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


@cache
def translations(locale: str) -> gettext.NullTranslations:
    """The compiled catalogues of ``locale``, ``messages`` first then ``app`` as fallback
    (English is the source language: identity)."""
    paths = [po_path(locale, d) for d in DOMAINS if po_path(locale, d).exists()]
    if locale not in LOCALES or not paths:
        return gettext.NullTranslations()
    merged = _compile(paths[0], locale)
    for path in paths[1:]:
        merged.add_fallback(_compile(path, locale))
    return merged


def normalise(value: str | None) -> str | None:
    """Map a language tag (``zh``, ``zh-CN``, ``zh_Hans``, ``en-GB``...) to a supported locale."""
    if not value:
        return None
    tag = value.strip().replace("_", "-").lower()
    if tag.startswith("zh"):
        return "zh_CN"
    if tag.startswith("en"):
        return "en"
    return None


def from_accept_language(header: str | None) -> str | None:
    """The best supported locale for an ``Accept-Language`` header, honouring q-values."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        locale = normalise(tag)
        if locale and q > 0:
            ranked.append((-q, i, locale))
    return min(ranked)[2] if ranked else None


def choose(query_lang: str | None, cookie: str | None, accept_language: str | None) -> str:
    return (normalise(query_lang) or normalise(cookie) or from_accept_language(accept_language)
            or DEFAULT_LOCALE)


class FoldTranslations(Extension):
    """Translate constant messages once, when a template is compiled, instead of at every render.

    A tag that is exactly ``{{ _("literal") }}`` becomes the text newstyle gettext would output
    for it (``translation % {}``; the ``Markup`` it returns is never escaped again), so the
    rendered page is identical; anything else (``_`` with variables or a non-literal argument)
    is left to the i18n extension at render time. The environment's ``locale`` global names the
    catalogue; an environment without one is not touched. Message extraction (Babel) does not
    load this extension, so it sees every ``_()`` as before."""

    _SHAPE = ("variable_begin", "name", "lparen", "string", "rparen", "variable_end")

    def filter_stream(self, stream: TokenStream) -> Any:
        locale = self.environment.globals.get("locale")
        if locale not in LOCALES:
            yield from stream
            return
        translate = translations(str(locale)).gettext
        pending: list[Token] = []
        for token in stream:
            pending.append(token)
            n = len(pending)
            if token.type != self._SHAPE[n - 1] or (n == 2 and token.value != "_"):
                yield from pending[:-1]
                pending = [token] if token.type == "variable_begin" else []
                if not pending:
                    yield token
                continue
            if n == len(self._SHAPE):
                message = pending[3].value
                try:
                    text = translate(message) % {}
                except (TypeError, ValueError, KeyError):
                    yield from pending
                else:
                    yield Token(pending[0].lineno, "data", text)
                pending = []
        yield from pending


class _Environment(Environment):
    """Jinja2's environment with a cheaper ``{{ mapping.key }}``: Jinja tries the attribute first
    and the item second, so every dict access raised and caught an AttributeError. A plain
    dict's key that does not name a dict attribute is returned directly (the same value Jinja
    would find); everything else takes Jinja's own path."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute in obj and not hasattr(dict, attribute):
            return obj[attribute]
        return super().getattr(obj, attribute)


@cache
def environment(locale: str) -> Environment:
    """One Jinja2 environment per locale, with ``_``/``gettext``/``ngettext`` installed and
    constant messages translated at compile time (:class:`FoldTranslations`)."""
    env = _Environment(loader=FileSystemLoader(TEMPLATE_DIR),
                       autoescape=select_autoescape(["html", "xml"]),
                       extensions=["jinja2.ext.i18n", FoldTranslations], trim_blocks=True,
                       lstrip_blocks=True, auto_reload=False)
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(locale=locale, html_lang=HTML_LANG[locale], native_names=NATIVE_NAMES,
                       locales=LOCALES)
    return env


def gettext_for(locale: str) -> Any:
    return translations(locale).gettext


def render(locale: str, template: str, context: Mapping[str, Any]) -> str:
    return environment(locale).get_template(template).render(**context)


def extract(domains: tuple[str, ...] = DOMAINS) -> None:
    """Extract messages from templates and web code and update the catalogues of both
    languages (each file's messages go to the catalogue :func:`domain_of` names)."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import write_po

    web = Path(__file__).resolve().parent
    templates = {d: Catalog(project="robopass", msgid_bugs_address="", charset="utf-8")
                 for d in DOMAINS}
    method_map = [("templates/**.html", "jinja2"), ("**.py", "python")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    for filename, lineno, message, comments, context in extract_from_dir(
            web, method_map, options, keywords={"_": None, "N_": None, "gettext": None,
                                                "ngettext": (1, 2)}):
        templates[domain_of(filename)].add(message, None, [(f"web/{filename}", lineno)],
                                           auto_comments=comments, context=context)
    for locale, domain in ((lo, d) for lo in LOCALES for d in domains):
        path = po_path(locale, domain)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with path.open("rb") as fh:
                catalog = read_po(fh, locale=locale)
        else:
            catalog = Catalog(locale=locale, project="robopass", charset="utf-8")
        catalog.update(templates[domain], no_fuzzy_matching=True)
        if locale == "en":  # the source language translates to itself
            for entry in catalog:
                if isinstance(entry.id, str) and entry.id and not entry.string:
                    entry.string = entry.id
        with path.open("wb") as fh:
            write_po(fh, catalog, width=100, sort_output=True, ignore_obsolete=True)
        translations.cache_clear()
        environment.cache_clear()


if __name__ == "__main__":  # python -m robopass.web.i18n extract
    import sys

    if sys.argv[1:] == ["extract"]:
        extract()
    else:
        raise SystemExit("usage: python -m robopass.web.i18n extract")
