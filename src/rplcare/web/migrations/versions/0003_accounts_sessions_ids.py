"""server-side sessions, forced password change, audit client address, random couple ids

Revision ID: 0003
Revises: 0002

- user_sessions: one row per signed-in browser (review finding S1);
- users.must_change_password: set by an administrator's password reset (S6);
- audit_log.client and an index on (entity, entity_id) (S7, S4);
- couples.id and every column that points at it become 64-bit (S4). SQLite's INTEGER is
  already 64-bit, so only PostgreSQL changes; its id sequence goes, as ids are now random.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COUPLE_REFERENCES = ("pregnancies", "test_results", "assessments", "care_item_status")


def upgrade() -> None:
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=20), nullable=True),
        sa.Column("client", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_user_sessions_user_id", "user_sessions", ["user_id"])
    op.add_column(
        "users",
        sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    # Plain ADD COLUMN (no batch copy), so the append-only triggers stay in place.
    op.add_column("audit_log", sa.Column("client", sa.String(length=64), nullable=True))
    op.create_index("ix_audit_log_entity", "audit_log", ["entity", "entity_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE couples ALTER COLUMN id DROP DEFAULT")
        op.execute("DROP SEQUENCE IF EXISTS couples_id_seq")
        op.alter_column("couples", "id", type_=sa.BigInteger(), existing_nullable=False)
        for table in COUPLE_REFERENCES:
            op.alter_column(table, "couple_id", type_=sa.BigInteger(), existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Fails, rightly, if a random id does not fit in 32 bits.
        for table in COUPLE_REFERENCES:
            op.alter_column(table, "couple_id", type_=sa.Integer(), existing_nullable=False)
        op.alter_column("couples", "id", type_=sa.Integer(), existing_nullable=False)
        op.execute("CREATE SEQUENCE couples_id_seq OWNED BY couples.id")
        op.execute("SELECT setval('couples_id_seq', COALESCE(MAX(id), 0) + 1, false) FROM couples")
        op.execute("ALTER TABLE couples ALTER COLUMN id SET DEFAULT nextval('couples_id_seq')")
    op.drop_index("ix_user_sessions_user_id", table_name="user_sessions")
    op.drop_table("user_sessions")
    op.drop_index("ix_audit_log_entity", table_name="audit_log")
    # Native DROP COLUMN (SQLite 3.35+ and PostgreSQL): no table copy, triggers stay.
    op.drop_column("audit_log", "client")
    op.drop_column("users", "must_change_password")
