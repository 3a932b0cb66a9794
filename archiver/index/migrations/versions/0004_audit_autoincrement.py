"""audit events never reuse a sequence number (SQLite AUTOINCREMENT)

Without AUTOINCREMENT SQLite hands a deleted trailing ``seq`` to the next event, so a truncated
chain could be "mended" by later events. PostgreSQL sequences never reuse numbers already.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_CREATE = """
CREATE TABLE audit_events_new (
    seq INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    at DATETIME NOT NULL,
    actor VARCHAR NOT NULL,
    action VARCHAR NOT NULL,
    subject VARCHAR NOT NULL,
    payload TEXT NOT NULL,
    prev_hash VARCHAR NOT NULL,
    hash VARCHAR NOT NULL UNIQUE
)
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(_CREATE)
    op.execute(
        "INSERT INTO audit_events_new (seq, at, actor, action, subject, payload, prev_hash, hash) "
        "SELECT seq, at, actor, action, subject, payload, prev_hash, hash FROM audit_events"
    )
    op.execute("DROP TABLE audit_events")
    op.execute("ALTER TABLE audit_events_new RENAME TO audit_events")
    op.execute("CREATE INDEX ix_audit_events_action ON audit_events (action)")


def downgrade() -> None:
    """AUTOINCREMENT is kept: dropping it would weaken the chain's truncation check."""
