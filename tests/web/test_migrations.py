"""Migrations and models cannot drift apart; upgrade and downgrade both work."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from rplcare.web import models  # noqa: F401  (registers the tables)
from rplcare.web.db import Base, make_engine
from rplcare.web.migrate import alembic_config, current_revision, head_revision, upgrade


def test_models_match_migrations(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    engine.dispose()
    assert diff == []


def test_downgrade_then_upgrade(database_url: str) -> None:
    engine = make_engine(database_url)
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision(engine)
    engine.dispose()


def test_0003_keeps_couples_and_takes_64_bit_ids(database_url: str) -> None:
    """S4: upgrading from 0002 keeps stored couples and their pregnancies; afterwards a
    couple id above 2^31 (random ids are 63-bit) can be stored, with rows pointing at it."""
    engine = make_engine(database_url)
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002")
    now = "2026-01-10 10:00:00"
    couple = (
        "INSERT INTO couples (id, label, patient_age, created_at, updated_at) "
        "VALUES (:id, :label, 33, :now, :now)"
    )
    pregnancy = (
        "INSERT INTO pregnancies (couple_id, outcome, end_date, gestational_weeks) "
        "VALUES (:id, 'miscarriage', '2025-06-01', 8)"
    )
    with engine.begin() as conn:
        conn.execute(sa.text(couple), {"id": 7, "label": "before", "now": now})
        conn.execute(sa.text(pregnancy), {"id": 7})
    upgrade(engine)
    big = 2**62 + 5
    with engine.begin() as conn:
        conn.execute(sa.text(couple), {"id": big, "label": "after", "now": now})
        conn.execute(sa.text(pregnancy), {"id": big})
        rows = conn.execute(
            sa.text(
                "SELECT c.id, c.label, count(p.id) FROM couples c "
                "JOIN pregnancies p ON p.couple_id = c.id GROUP BY c.id, c.label ORDER BY c.id"
            )
        ).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [(7, "before", 1), (big, "after", 1)]
