"""touch: audit_log, every change made through the API (see touchline.shared.audit).

Revision ID: touch_0007
Revises: touch_0006
"""

from alembic import op

from touchline.shared.audit_schema import create_audit_log_v1, drop_audit_log

revision = "touch_0007"
down_revision = "touch_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audit_log_v1(op.execute, "touch")


def downgrade() -> None:
    drop_audit_log(op.execute, "touch")
