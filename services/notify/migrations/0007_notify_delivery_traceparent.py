"""notify: the trace context of the command a delivery came from (W3C traceparent, nullable).

With tracing on, the delivery loop's SMTP send is a span in the command's trace; the send happens
later, in another loop, so the context is kept with the row. NULL when tracing was off upstream.

Revision ID: notify_0007
Revises: notify_0006
"""

from alembic import op

revision = "notify_0007"
down_revision = "notify_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE notify.deliveries ADD COLUMN IF NOT EXISTS traceparent text")


def downgrade() -> None:
    op.execute("ALTER TABLE notify.deliveries DROP COLUMN IF EXISTS traceparent")
