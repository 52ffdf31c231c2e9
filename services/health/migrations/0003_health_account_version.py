"""health: accounts.version, a token each write sets anew, so a consumer can tell whether the
account it kept in memory is still the one stored (and skip reading the state back).

Revision ID: health_0003
Revises: health_0002
"""

from alembic import op

revision = "health_0003"
down_revision = "health_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # 0 = written before this column existed: no consumer holds that version in memory.
    op.execute("ALTER TABLE health.accounts ADD COLUMN version bigint NOT NULL DEFAULT 0")


def downgrade() -> None:
    op.execute("ALTER TABLE health.accounts DROP COLUMN version")
