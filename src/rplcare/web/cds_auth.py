"""CDS Hooks 2.0 client authentication: every call carries `Authorization: Bearer <JWT>` signed
with an asymmetric key the service trusts (spec §Trusting CDS Clients).

Trusted clients come from a JSON file (`RPLCARE_CDS_JWKS_FILE`): `{"<iss>": <JWK Set>, ...}`.
Checked: the issuer is listed; the header names a `kid` in that issuer's set; the algorithm is
asymmetric (never `none` or HMAC); `aud` is the exact URL called; `exp`, `iat` and `jti` are
present; a `jti` is not replayed while its token is valid. Keys are never fetched from a `jku`
the token names, so a token cannot bring its own key.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import jwt
from jwt import PyJWK, PyJWKSet

from rplcare.errors import InputError

ALGORITHMS = ["ES384", "RS384", "ES256", "RS256", "ES512", "RS512", "PS384", "PS256"]
LEEWAY_S = 30


class CdsAuthError(InputError):
    """The call is not from a trusted CDS client: HTTP 401."""


class TrustedClients:
    def __init__(self, issuers: dict[str, PyJWKSet]) -> None:
        self.issuers = issuers
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: Path) -> TrustedClients:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            issuers = {iss: PyJWKSet.from_dict(jwks) for iss, jwks in raw.items()}
        except (OSError, ValueError, TypeError, AttributeError, jwt.PyJWKSetError) as exc:
            message = f"RPLCARE_CDS_JWKS_FILE {path}: not a JSON issuer → JWKS map ({exc})"
            raise InputError(message) from None
        return cls(issuers)

    def verify(self, authorization: str | None, audience: str) -> dict[str, Any]:
        if not authorization or not authorization.lower().startswith("bearer "):
            raise CdsAuthError("a CDS client must send Authorization: Bearer <JWT>")
        token = authorization[7:].strip()
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise CdsAuthError(f"the bearer token is not a JWT ({exc})") from None
        key = self._key(claims.get("iss"), header)
        try:
            verified: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=ALGORITHMS,
                audience=audience,
                issuer=claims.get("iss"),
                leeway=LEEWAY_S,
                options={"require": ["iss", "aud", "exp", "iat", "jti"]},
            )
        except jwt.PyJWTError as exc:
            raise CdsAuthError(f"the JWT was rejected: {exc}") from None
        self._once(str(verified["iss"]), str(verified["jti"]), float(verified["exp"]))
        return verified

    def _key(self, iss: object, header: dict[str, Any]) -> PyJWK:
        if not isinstance(iss, str) or iss not in self.issuers:
            raise CdsAuthError(f"issuer {iss!r} is not a trusted CDS client")
        if header.get("alg") not in ALGORITHMS:
            raise CdsAuthError(f"algorithm {header.get('alg')!r} is not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise CdsAuthError("the JWT header has no kid")
        for key in self.issuers[iss].keys:
            if key.key_id == kid:
                return key
        raise CdsAuthError(f"key {kid!r} is not in the JWK Set of {iss}")

    def _once(self, iss: str, jti: str, exp: float) -> None:
        now = time.time()
        with self._lock:
            self._seen = {k: t for k, t in self._seen.items() if t + LEEWAY_S > now}
            key = f"{iss}\n{jti}"
            if key in self._seen:
                raise CdsAuthError("this JWT (jti) was already used")
            self._seen[key] = exp
