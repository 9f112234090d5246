"""The application factory: no engine or settings are built at import time."""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from rplcare.knowledge.loader import load_knowledge
from rplcare.knowledge.profile import load_profile
from rplcare.web.api_docs import mount_api_docs
from rplcare.web.cds_auth import TrustedClients
from rplcare.web.db import make_engine, session_factory
from rplcare.web.deps import current_user
from rplcare.web.i18n import UiLanguage, template_context
from rplcare.web.limits import BodySizeLimit
from rplcare.web.migrate import ensure_migrated
from rplcare.web.models import User
from rplcare.web.plain import PAGES, plain_page, wants_html
from rplcare.web.routes import cds
from rplcare.web.routes.auth import home_of
from rplcare.web.routes.cds import CdsCors
from rplcare.web.security import LoginThrottle
from rplcare.web.settings import Settings

APP_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
logger = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
    "content-security-policy": APP_CSP,
}


class SecurityHeaders:
    """Adds security headers to every response (pure ASGI: no body buffering). Everything but
    static files is `no-store` unless the route says otherwise: patient pages and API answers
    must not stay in a shared clinic PC's browser cache (S9)."""

    def __init__(self, app: ASGIApp, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith(("/static/", "/docs-assets/"))

        async def send_with_headers(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))  # type: ignore[call-overload]
                present = {k.lower() for k, _ in headers}
                for k, v in SECURITY_HEADERS.items():
                    # A route's own header wins (the leaflet brings its own CSP): a browser
                    # enforces every CSP it gets, so two would block what either forbids (U1).
                    if k.encode() not in present:
                        headers.append((k.encode(), v.encode()))
                if not static and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                if self.hsts:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)  # type: ignore[arg-type]


def _wants_html(request: Request) -> bool:
    return wants_html(request.headers.get("accept", ""))


def web_root() -> Path:
    return Path(str(resources.files("rplcare.web")))


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    # A bad RPLCARE_PROFILE stops the start with its message, before anything is opened.
    profile = load_profile(settings.profile, load_knowledge()) if settings.profile else None
    engine = make_engine(settings.database_url, settings.sqlite_busy_timeout_s)
    try:
        ensure_migrated(engine)  # refuse to start on an unmigrated database
    except Exception:
        engine.dispose()
        raise

    app = FastAPI(
        docs_url=None,  # served by api_docs from local files instead
        redoc_url=None,
        title="rplcare",
        version="0.1.0",
        description=(
            "Decision support for recurrent pregnancy loss. Supports, and does not replace, "
            "a clinician."
        ),
    )
    app.state.settings = settings
    app.state.profile = profile
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    # The context processor gives every page `_` in the request's language (it overrides a
    # `_` a route passes) and the language switch.
    templates = Jinja2Templates(
        directory=str(web_root() / "templates"), context_processors=[template_context]
    )
    app.state.templates = templates
    app.state.login_limiter = LoginThrottle(
        settings.login_attempts,
        settings.login_window_s,
        settings.login_user_attempts,
        settings.login_user_window_s,
    )

    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="rplcare_session",
        max_age=settings.session_max_age_s,
        same_site="lax",
        https_only=settings.secure_cookies,
    )
    app.add_middleware(UiLanguage)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(SecurityHeaders, hsts=settings.secure_cookies)
    app.add_middleware(CdsCors)
    app.state.cds_clients = (
        TrustedClients.from_file(settings.cds_jwks_file) if settings.cds_jwks_file else None
    )
    app.mount("/static", StaticFiles(directory=str(web_root() / "static")), name="static")
    mount_api_docs(app)

    from rplcare.web.routes import api, auth, language, public

    app.include_router(api.router)
    app.include_router(cds.router)
    app.include_router(auth.router)
    app.include_router(public.router)
    app.include_router(language.router)
    try:
        from rplcare.web.routes import pages

        app.include_router(pages.router)
    except ImportError:  # the clinician pages module is optional while it is being built
        pass

    @app.get("/", include_in_schema=False)
    def home(user: Annotated[User | None, Depends(current_user)]) -> RedirectResponse:
        # Signed-in users go to their workspace; everyone else to the public risk page.
        return RedirectResponse(home_of(user) if user else "/risk", status_code=303)

    @app.get("/healthz", include_in_schema=False)
    def health() -> PlainTextResponse:
        return PlainTextResponse("ok")

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        # Browsers get a page (e.g. /patients/abc, or a sign-in form with a 300-character
        # password); API clients the usual JSON 422.
        if _wants_html(request):
            if request.method == "GET":
                return plain_page(
                    "Not found", "<h1>Page not found</h1><p>The address is not valid.</p>", 404
                )
            return plain_page(
                "Not accepted",
                "<h1>The form could not be accepted</h1><p>A field was missing or too long. "
                "Go back and check the form.</p>",
                422,
            )
        # Echoing the rejected input could hold NaN/Infinity, which JSON cannot carry.
        detail = [
            {k: v for k, v in err.items() if k in ("loc", "msg", "type")} for err in exc.errors()
        ]
        return JSONResponse({"detail": jsonable_encoder(detail)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # Unknown addresses, wrong methods and oversized bodies: a page for browsers (U10),
        # FastAPI's JSON for everyone else; redirects and 401/403 keep their own handling.
        page = PAGES.get(exc.status_code)
        if page is not None and _wants_html(request):
            return plain_page(page[0], page[1], exc.status_code)
        return await http_exception_handler(request, exc)

    @app.exception_handler(OperationalError)
    async def database_unavailable(request: Request, exc: OperationalError) -> Response:
        # The database refused or failed the transaction (locked, gone): nothing was saved,
        # and the client is told so, never "saved" (C1).
        logger.warning("database unavailable: %s", type(exc.orig).__name__)
        headers = {"retry-after": "5"}
        if _wants_html(request):
            page = plain_page(
                "Not saved",
                "<h1>Not saved: the database is busy</h1><p>Nothing was changed. "
                "Go back and try again in a moment.</p>",
                503,
            )
            page.headers.update(headers)
            return page
        return JSONResponse(
            {"detail": "database unavailable; nothing was saved, try again"},
            status_code=503,
            headers=headers,
        )

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        # Never a traceback to the user; details stay out of logs that could hold patient data.
        if _wants_html(request):
            return plain_page(
                "Error",
                "<h1>Something went wrong</h1><p>The error has not been shown for privacy. "
                "Please try again or report it.</p>",
                500,
            )
        return JSONResponse({"detail": "internal error"}, status_code=500)

    return app
