"""Password policy (review finding S6): at least 12 characters, not containing the username,
and not guessable. The guessability check is zxcvbn's: it ships a list of 30,000 common
passwords plus English words and names, and also scores keyboard patterns, repeats and
sequences ("aaaaaaaaaaaa", "password1234" are both refused)."""

from __future__ import annotations

import threading

from zxcvbn import zxcvbn

from rplcare.web.i18n import translate as _

MIN_LENGTH = 12
MAX_LENGTH = 256
#: zxcvbn scores 0-4; 3 is "safely unguessable" (over 10^8 guesses).
MIN_SCORE = 3
#: zxcvbn refuses longer input; the start of a long passphrase is checked.
_ZXCVBN_MAX = 72
# zxcvbn keeps the user inputs in a module-level dictionary, so calls must not overlap.
_LOCK = threading.Lock()


def password_problems(password: str, username: str) -> list[str]:
    """What is wrong with `password` for `username`, as messages; empty when acceptable."""
    # "password: " names the form field; the rest is in the user's language (zxcvbn's own
    # warning stays in English).
    if len(password) < MIN_LENGTH:
        return ["password: " + _("at least {n} characters").format(n=MIN_LENGTH)]
    if len(password) > MAX_LENGTH:
        return ["password: " + _("at most {n} characters").format(n=MAX_LENGTH)]
    if username and username.lower() in password.lower():
        return ["password: " + _("must not contain the username")]
    with _LOCK:
        result = zxcvbn(password[:_ZXCVBN_MAX], user_inputs=[username, "rplcare"])
    if result["score"] < MIN_SCORE:
        why = result["feedback"]["warning"] or _("It is too easy to guess.")
        return ["password: " + _("too common or easy to guess.") + " " + why]
    return []
