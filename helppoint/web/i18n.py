"""Which language a public page is drawn in, and gettext in the templates (docs/i18n.md).

The language is, in order: `?lang=xx` in the address (the language switch; it is then kept in
a small `hp_lang` cookie so the next page follows), the `hp_lang` cookie, the browser's
Accept-Language, the scheme's `public_default_language`. Only languages in the scheme's
`public_languages` are offered. Pages without a `lang` in their context (the console, admin,
police view) are drawn in English: their strings are in the catalogues, not yet translated.
Their scripts take their strings from the page: `script_catalogue()` in a template gives the
translations of the scripts' strings in the page's language, which base.html puts in a JSON
block that static/i18n.js reads.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from starlette.responses import Response

from helppoint import i18n
from helppoint.web.security import secure_cookie

LANG_COOKIE = "hp_lang"
#: A year: it is a preference, not a session.
LANG_COOKIE_AGE = 365 * 24 * 3600


def offered(request: Request) -> tuple[str, ...]:
    """The languages this scheme offers the public (a setting), English first if offered."""
    return i18n.parse_languages(request.app.state.settings.public_languages)


def chosen_by_query(request: Request) -> str | None:
    value = request.query_params.get("lang", "")[:16].strip().lower()
    return value if value in offered(request) else None


def public_language(request: Request) -> str:
    """The language to draw this request's public page (or PDF) in."""
    langs = offered(request)
    asked = chosen_by_query(request)
    if asked:
        return asked
    cookie = request.cookies.get(LANG_COOKIE, "")[:16].strip().lower()
    if cookie in langs:
        return cookie
    browser = i18n.from_accept_language(request.headers.get("accept-language", ""), langs)
    if browser:
        return browser
    return default_language(request)


def default_language(request: Request) -> str:
    """The scheme's default public language (the first offered if the setting is not)."""
    langs = offered(request)
    default: str = request.app.state.settings.public_default_language
    return default if default in langs else langs[0]


def switch_links(request: Request, current: str) -> list[dict[str, Any]]:
    """The language switch: one link per offered language, to this page in it."""
    links = []
    for lang in offered(request):
        query = dict(request.query_params) | {"lang": lang}
        links.append(
            {
                "lang": lang,
                "name": i18n.NAMES.get(lang, lang),
                "href": f"{request.url.path}?{urlencode(query)}",
                "current": lang == current,
            }
        )
    return links


def public_context(request: Request, lang: str | None = None) -> dict[str, Any]:
    """What every public template needs for its language: `lang` and the switch."""
    lang = lang or public_language(request)
    return {"lang": lang, "languages": switch_links(request, lang)}


def vary_by_language(request: Request, response: Response, lang: str) -> Response:
    """Marks a public response as depending on the language, and keeps a language chosen with
    the switch in its cookie (such a response is then not for shared caches)."""
    response.headers["Vary"] = "Accept-Language, Cookie"
    response.headers["Content-Language"] = lang
    if chosen_by_query(request) and request.cookies.get(LANG_COOKIE) != lang:
        response.set_cookie(
            LANG_COOKIE,
            lang,
            max_age=LANG_COOKIE_AGE,
            path="/",
            samesite="lax",
            secure=secure_cookie(request),
            httponly=True,
        )
        response.headers["Cache-Control"] = "private, max-age=60"
    return response


def _language(context: Context) -> str:
    lang = context.get("lang")
    return lang if isinstance(lang, str) else i18n.SOURCE_LANGUAGE


@pass_context
def _gettext(context: Context, message: str) -> str:
    return i18n.gettext_for(_language(context))(message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, count: int) -> str:
    return i18n.ngettext_for(_language(context))(singular, plural, count)


@pass_context
def _script_catalogue(context: Context) -> dict[str, object]:
    return i18n.script_catalogue(_language(context))


def install(env: Environment) -> None:
    """`_()`, `gettext`, `ngettext` and `{% trans %}` in every template, in the language of
    the template's `lang` (English when it has none), and `script_catalogue()`, the scripts'
    strings in that language. New-style gettext: variables are given as keywords and
    escaped, and a `%` in the text is written `%%` (the text is always formatted)."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(  # type: ignore[attr-defined]
        _gettext, _ngettext, newstyle=True
    )
    env.globals["script_catalogue"] = _script_catalogue
