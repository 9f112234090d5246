"""The language switch: remembers the choice in a cookie and goes back to the page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import RedirectResponse

from rplcare.leaflet.i18n import LANGUAGES
from rplcare.web.i18n import COOKIE, COOKIE_MAX_AGE_S

router = APIRouter(include_in_schema=False)


def same_site_path(target: str) -> str:
    """`target` if it is a path on this site, else "/" (never `//host` or a scheme)."""
    if not target.startswith("/") or target.startswith(("//", "/\\")) or "\\" in target:
        return "/"
    return target


@router.get("/language")
def choose_language(
    lang: Annotated[str, Query(alias="set", max_length=5)],
    next_: Annotated[str, Query(alias="next", max_length=2000)] = "/",
) -> RedirectResponse:
    response = RedirectResponse(same_site_path(next_), status_code=303)
    if lang in LANGUAGES:
        response.set_cookie(
            COOKIE, lang, max_age=COOKIE_MAX_AGE_S, httponly=True, samesite="lax", path="/"
        )
    return response
