"""notify: audit_log, every change made through the API (see touchline.shared.audit).

Revision ID: notify_0009
Revises: notify_0008
"""

from alembic import op

from touchline.shared.audit_schema import create_audit_log_v1, drop_audit_log

revision = "notify_0009"
down_revision = "notify_0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audit_log_v1(op.execute, "notify")


def downgrade() -> None:
    drop_audit_log(op.execute, "notify")
