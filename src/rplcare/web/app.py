"""The application factory: no engine or settings are built at import time."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from rplcare.knowledge.loader import load_knowledge
from rplcare.knowledge.profile import load_profile
from rplcare.web.cds_auth import TrustedClients
from rplcare.web.db import make_engine, session_factory
from rplcare.web.deps import current_user
from rplcare.web.migrate import ensure_migrated
from rplcare.web.models import User
from rplcare.web.routes import cds
from rplcare.web.routes.auth import home_of
from rplcare.web.routes.cds import CdsCors
from rplcare.web.security import LoginThrottle
from rplcare.web.settings import Settings

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
}


class SecurityHeaders:
    """Adds security headers to every response (pure ASGI: no body buffering)."""

    def __init__(self, app: ASGIApp, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))  # type: ignore[call-overload]
                for k, v in SECURITY_HEADERS.items():
                    headers.append((k.encode(), v.encode()))
                if self.hsts:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)  # type: ignore[arg-type]


def _plain_page(title: str, body: str, status: int) -> HTMLResponse:
    """A self-contained error page (no template: it must render whatever else failed)."""
    return HTMLResponse(
        f"<!doctype html><html lang='en'><title>{title} · rplcare</title><main>{body}"
        "<p><a href='/'>Home</a></p></main></html>",
        status_code=status,
    )


def web_root() -> Path:
    return Path(str(resources.files("rplcare.web")))


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    # A bad RPLCARE_PROFILE stops the start with its message, before anything is opened.
    profile = load_profile(settings.profile, load_knowledge()) if settings.profile else None
    engine = make_engine(settings.database_url)
    try:
        ensure_migrated(engine)  # refuse to start on an unmigrated database
    except Exception:
        engine.dispose()
        raise

    app = FastAPI(
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
    templates = Jinja2Templates(directory=str(web_root() / "templates"))
    templates.env.globals["_"] = lambda s: s  # translation hook (gettext catalogs later)
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
    app.add_middleware(SecurityHeaders, hsts=settings.secure_cookies)
    app.add_middleware(CdsCors)
    app.state.cds_clients = (
        TrustedClients.from_file(settings.cds_jwks_file) if settings.cds_jwks_file else None
    )
    app.mount("/static", StaticFiles(directory=str(web_root() / "static")), name="static")

    from rplcare.web.routes import api, auth, public

    app.include_router(api.router)
    app.include_router(cds.router)
    app.include_router(auth.router)
    app.include_router(public.router)
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
        # Browsers get a page (e.g. /patients/abc); API clients the usual JSON 422.
        if "text/html" in request.headers.get("accept", ""):
            return _plain_page(
                "Not found", "<h1>Page not found</h1><p>The address is not valid.</p>", 404
            )
        # Echoing the rejected input could hold NaN/Infinity, which JSON cannot carry.
        detail = [
            {k: v for k, v in err.items() if k in ("loc", "msg", "type")} for err in exc.errors()
        ]
        return JSONResponse({"detail": jsonable_encoder(detail)}, status_code=422)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        # Never a traceback to the user; details stay out of logs that could hold patient data.
        if "text/html" in request.headers.get("accept", ""):
            return _plain_page(
                "Error",
                "<h1>Something went wrong</h1><p>The error has not been shown for privacy. "
                "Please try again or report it.</p>",
                500,
            )
        return JSONResponse({"detail": "internal error"}, status_code=500)

    return app
