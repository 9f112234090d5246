"""pregnancies.gestational_weeks_assumed: imported pregnancies whose gestation was not recorded

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pregnancies") as batch:
        batch.add_column(sa.Column("gestational_weeks_assumed", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pregnancies") as batch:
        batch.drop_column("gestational_weeks_assumed")
