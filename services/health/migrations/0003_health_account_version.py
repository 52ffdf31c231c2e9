"""health: accounts.version, a token each write sets anew, so a consumer can tell whether the
account it kept in memory is still the one stored (and skip reading the state back).

The repository's save sets a fresh random version. Any other write (an older replica during a
rolling upgrade, an operator's UPDATE by hand) would leave the version as it was and a cache
would keep serving what it held; the trigger gives such a write a new version instead.

Revision ID: health_0003
Revises: health_0002
"""

from alembic import op

revision = "health_0003"
down_revision = "health_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # 0 = written before this column existed, or inserted by an older replica: never cached.
    op.execute("ALTER TABLE health.accounts ADD COLUMN version bigint NOT NULL DEFAULT 0")
    op.execute(
        """CREATE FUNCTION health.accounts_new_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.version = OLD.version THEN
                NEW.version := 1 + floor(random() * 4611686018427387903)::bigint;
            END IF;
            RETURN NEW;
        END $$"""
    )
    op.execute(
        """CREATE TRIGGER accounts_new_version BEFORE UPDATE ON health.accounts
        FOR EACH ROW EXECUTE FUNCTION health.accounts_new_version()"""
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER accounts_new_version ON health.accounts")
    op.execute("DROP FUNCTION health.accounts_new_version()")
    op.execute("ALTER TABLE health.accounts DROP COLUMN version")
