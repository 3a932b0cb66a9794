"""posts: kind (post, reply, comment) and in_reply_to, for replies and comments as records

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("kind", sa.String(), nullable=False, server_default="post"))
        batch.add_column(sa.Column("in_reply_to", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("in_reply_to")
        batch.drop_column("kind")
