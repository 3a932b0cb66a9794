"""governance: legal holds, disposition plans, tombstones

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "holds",
        sa.Column("hold_id", sa.String(), primary_key=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("account", sa.String(), nullable=True),
        sa.Column("series", sa.String(), nullable=True),
        _ts("date_from"),
        _ts("date_to"),
        sa.Column("query", sa.String(), nullable=True),
        sa.Column("created_by", sa.String(), nullable=False),
        _ts("created_at", nullable=False),
        sa.Column("released_by", sa.String(), nullable=True),
        _ts("released_at"),
        sa.Column("release_reason", sa.Text(), nullable=True),
    )
    op.create_table(
        "disposition_plans",
        sa.Column("plan_id", sa.String(), primary_key=True),
        _ts("as_of", nullable=False),
        sa.Column("series_filter", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("planned_by", sa.String(), nullable=False),
        _ts("planned_at", nullable=False),
        sa.Column("approved_by", sa.String(), nullable=True),
        _ts("approved_at"),
        sa.Column("executed_by", sa.String(), nullable=True),
        _ts("executed_at"),
        sa.Column("policy_hash", sa.String(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("certificate_key", sa.String(), nullable=True),
        sa.Column("certificate_sha256", sa.String(), nullable=True),
    )
    op.create_table(
        "tombstones",
        sa.Column("warc_name", sa.String(), primary_key=True),
        sa.Column("capture_id", sa.String(), nullable=False, index=True),
        sa.Column("account", sa.String(), nullable=False, index=True),
        sa.Column("series", sa.String(), nullable=False),
        sa.Column("authority", sa.String(), nullable=True),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        _ts("captured_at", nullable=False),
        _ts("retain_until"),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("plan_id", sa.String(), nullable=False),
        sa.Column("planned_by", sa.String(), nullable=False),
        sa.Column("approved_by", sa.String(), nullable=False),
        sa.Column("disposed_by", sa.String(), nullable=False),
        _ts("disposed_at", nullable=False),
    )
    op.create_index("ix_records_refers_to", "records", ["refers_to"])


def downgrade() -> None:
    op.drop_index("ix_records_refers_to", "records")
    op.drop_table("tombstones")
    op.drop_table("disposition_plans")
    op.drop_table("holds")
