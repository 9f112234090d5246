"""Settings from the environment (RPLCARE_* variables, and DATABASE_URL)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rplcare.web.fhir_servers import allowed_servers

DEFAULT_SQLITE = f"sqlite:///{Path('rplcare.db').resolve()}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RPLCARE_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = Field(
        default=DEFAULT_SQLITE,
        validation_alias=AliasChoices("DATABASE_URL", "RPLCARE_DATABASE_URL"),
    )
    secret_key: str = Field(default_factory=lambda: secrets.token_urlsafe(32))
    secure_cookies: bool = False
    # Sessions live on the server (user_sessions): an absolute lifetime from sign-in, and an
    # idle timeout, short because clinic PCs are shared.
    session_max_age_s: int = 8 * 3600
    session_idle_s: int = 30 * 60
    login_attempts: int = 5  # per username and client within the window below
    login_window_s: int = 300
    # Per username whatever the client address, so rotating addresses does not help.
    login_user_attempts: int = 10
    login_user_window_s: int = 900
    # Proxies whose X-Forwarded-For/-Proto `rplcare serve` trusts (uvicorn's
    # forwarded_allow_ips, comma-separated). Empty: none, so no header can change the client.
    forwarded_allow_ips: str = ""
    # CDS Hooks: trusted clients (issuer -> JWK Set, JSON). Without it the services answer
    # unauthenticated calls in development and test, and refuse every call in production.
    cds_jwks_file: Path | None = None
    # FHIR servers the CDS services may read from when a client did not prefetch (base URLs,
    # comma-separated; matched by scheme, host, port and path). Empty: only this machine
    # (loopback) in development and test, none in production.
    cds_fhir_servers: str = ""
    cds_fetch_timeout_s: float = 5.0
    # The app's address as clinicians reach it (card links); default: the address called.
    public_url: str | None = None
    # Clinic pathway profile (RPLCARE_PROFILE): a shipped name or a YAML file; none shows
    # every guideline.
    profile: str | None = None
    # Largest request body accepted on any endpoint (bytes); the import page's file limit is
    # 1 MB, and a case of the largest accepted size is far smaller.
    max_request_bytes: int = Field(default=1_048_576, gt=0)
    # How long a write waits for another writer's lock on SQLite before it is refused (503).
    sqlite_busy_timeout_s: float = Field(default=5.0, ge=0)

    @model_validator(mode="after")
    def _fhir_servers_parse(self) -> Settings:
        allowed_servers(self.cds_fhir_servers)  # a malformed entry stops the start
        return self

    @model_validator(mode="after")
    def _production_is_safe(self) -> Settings:
        if self.environment == "production":
            if len(self.secret_key) < 32:
                raise ValueError("RPLCARE_SECRET_KEY must be set (32+ characters) in production")
            if not self.secure_cookies:
                raise ValueError("RPLCARE_SECURE_COOKIES must be true in production")
        return self
