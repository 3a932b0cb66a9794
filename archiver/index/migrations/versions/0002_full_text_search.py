"""full-text search over post versions: SQLite FTS5, PostgreSQL tsvector

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE post_search USING fts5("
            "title, text, version_id UNINDEXED, tokenize='porter unicode61')"
        )
        op.execute(
            "CREATE TRIGGER post_versions_ai AFTER INSERT ON post_versions BEGIN "
            "INSERT INTO post_search(rowid, title, text, version_id) "
            "VALUES (new.id, coalesce(new.title, ''), new.text, new.id); END"
        )
        op.execute(
            "CREATE TRIGGER post_versions_ad AFTER DELETE ON post_versions BEGIN "
            "DELETE FROM post_search WHERE rowid = old.id; END"
        )
    else:
        op.execute(
            "ALTER TABLE post_versions ADD COLUMN search tsvector GENERATED ALWAYS AS "
            "(setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
            "to_tsvector('english', text)) STORED"
        )
        op.execute("CREATE INDEX ix_post_versions_search ON post_versions USING gin (search)")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS post_versions_ad")
        op.execute("DROP TRIGGER IF EXISTS post_versions_ai")
        op.execute("DROP TABLE IF EXISTS post_search")
    else:
        op.execute("DROP INDEX IF EXISTS ix_post_versions_search")
        op.execute("ALTER TABLE post_versions DROP COLUMN IF EXISTS search")
