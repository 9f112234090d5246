"""Request plumbing shared by the clinician pages: sign-in, CSRF, rendering, error pages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from rplcare.engine.assessment import DISCLAIMER
from rplcare.web import charts
from rplcare.web import repository as repo
from rplcare.web.audit_trail import record_apart
from rplcare.web.deps import current_user
from rplcare.web.models import Couple, User
from rplcare.web.routes.auth import csrf_token, home_of, safe_next
from rplcare.web.routes.pages.forms import _, yes_no
from rplcare.web.security import csrf_matches


def _redirect(url: str) -> HTTPException:
    return HTTPException(303, "see other", headers={"Location": url})


def signed_in(request: Request, user: Annotated[User | None, Depends(current_user)]) -> User:
    """The signed-in user; anyone else goes to the login page, and back here after it."""
    if user is None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        back = safe_next(here) if request.method == "GET" else None
        raise _redirect(f"/login?next={quote(back, safe='/')}" if back else "/login")
    return user


def account_user(user: Annotated[User, Depends(signed_in)]) -> User:
    """Any role; a user whose password was reset must choose a new one first."""
    if user.must_change_password:
        raise _redirect("/account/password")
    return user


def page_user(request: Request, user: Annotated[User, Depends(account_user)]) -> User:
    """A clinician. Administrators do not open patient records: they go to their pages."""
    if user.role != "clinician":
        record_apart(request, user.username, "forbidden", "page", None, request.url.path)
        raise _redirect(home_of(user))
    return user


#: The clinician pages (patients); AnyPageUser: account and admin pages (they check roles).
PageUser = Annotated[User, Depends(page_user)]
AnyPageUser = Annotated[User, Depends(account_user)]
PasswordPageUser = Annotated[User, Depends(signed_in)]
CsrfField = Annotated[str, Form()]


def render(
    request: Request,
    user: User,
    template: str,
    context: Mapping[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    ctx: dict[str, Any] = {
        "_": _,
        "user": user,
        "csrf": csrf_token(request),
        "disclaimer": DISCLAIMER,
        "pct": charts.pct,
        "gestation": charts.gestation,
        "yn": yes_no,
        **(context or {}),
    }
    response = request.app.state.templates.TemplateResponse(
        request, template, ctx, status_code=status
    )
    assert isinstance(response, HTMLResponse)
    return response


def error_page(request: Request, user: User, status: int, message: str) -> HTMLResponse:
    titles = {
        400: _("The form could not be accepted"),
        403: _("Not allowed"),
        404: _("Not found"),
        422: _("The request could not be used"),
    }
    return render(
        request,
        user,
        "patients/error.html",
        {"status": status, "heading": titles.get(status, _("Error")), "message": message},
        status,
    )


def bad_csrf(request: Request, user: User, given: str) -> HTMLResponse | None:
    """The 400 page when a form's CSRF field does not match the session's; else None."""
    if csrf_matches(request.session.get("csrf"), given):
        return None
    return error_page(
        request,
        user,
        400,
        _("The form expired or did not come from this site. Go back, reload, and try again."),
    )


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def couple_or_404(
    request: Request, session: Session, couple_id: int, user: User
) -> Couple | HTMLResponse:
    """The couple this user may see, or the 404 page."""
    couple = repo.get_couple(session, couple_id, user.username)
    if couple is None:
        return error_page(request, user, 404, _("There is no couple with this number."))
    return couple


def posted_couple(
    request: Request, session: Session, user: User, couple_id: int, csrf: str
) -> Couple | HTMLResponse:
    """The couple a form posts to, or the error page: a bad CSRF field (400) is reported
    before an unknown couple (404)."""
    if bad := bad_csrf(request, user, csrf):
        return bad
    return couple_or_404(request, session, couple_id, user)
