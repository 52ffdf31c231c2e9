"""ingest: what the last CSV import of each account or contact set (dry runs compare with it).

Revision ID: ingest_0002
Revises: ingest_0001
"""

from alembic import op

revision = "ingest_0002"
down_revision = "ingest_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """CREATE TABLE ingest.imported_records (
            record_key text PRIMARY KEY,          -- "accounts:<id>" or "contacts:<id>"
            digest text NOT NULL,                 -- message id prefix of the row content last applied
            traits jsonb NOT NULL,                -- canonical traits last applied
            source text NOT NULL,
            imported_at timestamptz NOT NULL)"""
    )


def downgrade() -> None:
    op.execute("DROP TABLE ingest.imported_records")
