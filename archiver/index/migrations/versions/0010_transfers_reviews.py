"""transfers (bags sent, receipts) and reviews (appraisal decisions)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transfers",
        sa.Column("bag_id", sa.String(), primary_key=True),
        sa.Column("plan_id", sa.String(), nullable=False, index=True),
        sa.Column("series", sa.String(), nullable=False),
        sa.Column("destination", sa.String(), nullable=False),
        sa.Column("location", sa.String(), nullable=False),
        sa.Column("accession", sa.String(), nullable=True),
        sa.Column("transfer_request", sa.String(), nullable=True),
        sa.Column("warc_version", sa.String(), nullable=False),
        sa.Column("captures", sa.Text(), nullable=False),
        sa.Column("manifest_sha256", sa.String(), nullable=False),
        sa.Column("payload_oxum", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False, index=True),
        sa.Column("sent_by", sa.String(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("receipt_name", sa.String(), nullable=True),
        sa.Column("receipt_sha256", sa.String(), nullable=True),
        sa.Column("receipt_key", sa.String(), nullable=True),
        sa.Column("receipt", sa.Text(), nullable=True),
        sa.Column("receipt_encoding", sa.String(), nullable=True),
        sa.Column("confirmed_by", sa.String(), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("review_id", sa.String(), nullable=False, index=True),
        sa.Column("capture_id", sa.String(), nullable=False, index=True),
        sa.Column("decision", sa.String(), nullable=False),
        sa.Column("from_series", sa.String(), nullable=False),
        sa.Column("to_series", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reviewed_by", sa.String(), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retain_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("reviews")
    op.drop_table("transfers")
