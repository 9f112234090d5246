"""The clinician UI and /risk in English, Dutch, Swedish and Simplified Chinese.

The language is, in order: the one the user chose with the switch (remembered in a cookie),
else the best match of the browser's Accept-Language, else English. Messages come from the
web catalogs (`locale/<lang>/LC_MESSAGES/web.po`, compiled at install like the leaflets'),
falling back to the leaflet catalogs for shared terms, then to the English source.
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Callable
from contextvars import ContextVar
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from babel.support import Translations
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from rplcare.leaflet.i18n import CATALOGS, HTML_LANG, LANGUAGES, Localizer

DOMAIN = "web"
COOKIE = "rplcare_lang"
COOKIE_MAX_AGE_S = 365 * 24 * 3600
#: The switch shows each language in its own name.
NAMES = {"en": "English", "nl": "Nederlands", "sv": "Svenska", "zh": "简体中文"}


def locale_dir() -> Path:
    return Path(str(resources.files("rplcare.web").joinpath("locale")))


def _primary(tag: str) -> str:
    return tag.strip().lower().replace("_", "-").split("-", 1)[0]


def from_accept_language(header: str) -> str | None:
    """The first offered language in the header's preference order (q-values), or None."""
    choices: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        lang = _primary(tag)
        if lang in LANGUAGES and quality > 0:
            choices.append((-quality, position, lang))
    return min(choices)[2] if choices else None


def request_language(request: Request) -> str:
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return str(chosen)
    return from_accept_language(request.headers.get("accept-language", "")) or "en"


@cache
def translations(lang: str) -> _gettext.NullTranslations:
    if lang == "en":
        return _gettext.NullTranslations()
    mo = locale_dir() / CATALOGS[lang] / "LC_MESSAGES" / f"{DOMAIN}.mo"
    if mo.is_file():
        with mo.open("rb") as fh:
            own: _gettext.NullTranslations = Translations(fh, domain=DOMAIN)
    else:
        own = _gettext.NullTranslations()
    own.add_fallback(Localizer(lang).translations)
    return own


@cache
def gettext_for(lang: str) -> Callable[[str], str]:
    catalog = translations(lang)

    def gettext(message: str) -> str:
        # Empty and non-text values (a missing reason) pass through untouched.
        return catalog.gettext(message) if isinstance(message, str) and message else message

    return gettext


def template_context(request: Request) -> dict[str, Any]:
    """Jinja context processor: `_`, the language and the switch for every page."""
    lang = current_language()
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return {
        "_": gettext_for(lang),
        "ui_lang": lang,
        "html_lang": HTML_LANG[lang],
        "ui_languages": [(code, NAMES[code], HTML_LANG[code]) for code in LANGUAGES],
        "ui_here": here,
    }


#: The language of the request being handled: set by `UiLanguage` for the whole request
#: (route code in the thread pool runs in a copy of this context), English outside requests.
_request_lang: ContextVar[str] = ContextVar("rplcare_ui_lang", default="en")


def N_(message: str) -> str:
    """Marks a message for the catalogs that is translated later, where it is shown."""
    return message


def translate(message: str) -> str:
    """`message` in the language of the request being handled (the `_` of route code)."""
    return gettext_for(_request_lang.get())(message)


def current_language() -> str:
    return _request_lang.get()


class UiLanguage:
    """Pure ASGI middleware: decides the request's UI language once, for templates and code."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _request_lang.set(request_language(Request(scope)))
        try:
            await self.app(scope, receive, send)
        finally:
            _request_lang.reset(token)
