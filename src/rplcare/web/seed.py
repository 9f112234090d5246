"""Demo accounts and demo couples for `make run` (development only)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rplcare.web import repository as repo
from rplcare.web.models import User

#: Development-only credentials, printed by `rplcare serve --demo`; refused in production.
DEMO_USERS = (
    ("admin", "demo-admin-password", "admin"),
    ("clinician", "demo-clinician-pw", "clinician"),
)


def seed_demo(session: Session, examples: Path) -> bool:
    """Create the demo users and one couple per example case, once. Returns whether it did."""
    if session.scalar(select(func.count()).select_from(User)):
        return False
    for username, password, role in DEMO_USERS:
        repo.create_user(session, username=username, password=password, role=role)
    for path in sorted(examples.glob("*.json")):
        case = repo.validate(json.loads(path.read_text("utf-8")), str(path))
        repo.create_couple(session, case, "seed")
    return True
