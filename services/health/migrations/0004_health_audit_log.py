"""health: audit_log, every change made through the API (see touchline.shared.audit).

Revision ID: health_0004
Revises: health_0003
"""

from alembic import op

from touchline.shared.audit_schema import create_audit_log_v1, drop_audit_log

revision = "health_0004"
down_revision = "health_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audit_log_v1(op.execute, "health")


def downgrade() -> None:
    drop_audit_log(op.execute, "health")
