"""Password hashing (argon2), login rate limiting and CSRF tokens."""

from __future__ import annotations

import hmac
import secrets
import time
from collections import defaultdict, deque

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
#: Verified against when the username is unknown, so timing does not reveal which users exist.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))

ROLES = ("admin", "clinician")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


class LoginRateLimiter:
    """At most `attempts` failed logins per key within `window_s` (in memory, per process)."""

    def __init__(self, attempts: int, window_s: int) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def _prune(self, key: str, now: float) -> deque[float]:
        q = self._failures[key]
        while q and now - q[0] > self.window_s:
            q.popleft()
        return q

    def blocked(self, key: str) -> bool:
        if key not in self._failures:  # no entry for every name ever tried
            return False
        return len(self._prune(key, time.monotonic())) >= self.attempts

    def failed(self, key: str) -> None:
        self._prune(key, time.monotonic()).append(time.monotonic())

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)


class LoginThrottle:
    """Two caps on failed sign-ins: per client address and username, and per username alone.
    The second does not depend on the address, so no header or proxy can reset it. A success
    clears only the first: the owner signing in must not reset a guesser's count."""

    def __init__(
        self, client_attempts: int, client_window_s: int, user_attempts: int, user_window_s: int
    ) -> None:
        self.per_client = LoginRateLimiter(client_attempts, client_window_s)
        self.per_user = LoginRateLimiter(user_attempts, user_window_s)

    def blocked(self, client: str, username: str) -> bool:
        return self.per_client.blocked(f"{client}:{username}") or self.per_user.blocked(username)

    def failed(self, client: str, username: str) -> None:
        self.per_client.failed(f"{client}:{username}")
        self.per_user.failed(username)

    def succeeded(self, client: str, username: str) -> None:
        self.per_client.succeeded(f"{client}:{username}")


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    return bool(expected and given and hmac.compare_digest(expected, given))
