"""post_versions: media, the URLs of the images, video and audio a version carried

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("post_versions") as batch:
        batch.add_column(sa.Column("media", sa.Text(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("post_versions") as batch:
        batch.drop_column("media")
