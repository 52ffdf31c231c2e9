"""Settings shared by every service (env prefix ``TOUCHLINE_``).

Each service adds its own class with prefix ``TOUCHLINE_<SERVICE>_`` built on
:class:`ServiceSettings`. Secrets left at their dev default are refused outside dev.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .tokens import LEGACY_NAME, Token, parse_tokens

DEV_SECRET_PREFIX = "dev-"
LEGACY_DEFAULT = "dev-api-token"


class CommonSettings(BaseSettings):
    """What every Touchline process needs: where Kafka and Postgres are, and what time it is."""

    model_config = SettingsConfigDict(env_prefix="TOUCHLINE_", extra="ignore")

    env: Literal["dev", "test", "prod"] = Field("dev", description="dev and test accept dev secrets; prod refuses them")
    kafka_bootstrap_servers: str = Field("127.0.0.1:29092", description="Kafka bootstrap servers, comma separated")
    database_url: str = Field(
        "postgresql+asyncpg://postgres@/postgres?host=/tmp",
        description="SQLAlchemy URL of the Postgres server (asyncpg driver)",
    )
    topic_prefix: str = Field("", description="prefix for every topic name (isolates test runs on a shared broker)")
    clock: Literal["system", "simulated"] = Field(
        "system", description="system: wall clock; simulated: time moves only via `touchline clock`"
    )
    log_level: str = Field("INFO", description="Python log level")
    dedup_retention_days: float = Field(
        30.0,
        ge=0,
        description="processed message ids (duplicate detection) are forgotten after this many days of the "
        "service clock; keep it longer than the topics' retention and any producer's retries (0 keeps them forever)",
    )
    otel_exporter_otlp_endpoint: str = Field(
        "",
        description="OpenTelemetry collector base URL (OTLP over HTTP, e.g. http://otel-collector:4318; "
        "/v1/traces is appended): traces are exported there. Empty: tracing off, no spans are made",
    )
    api_token: SecretStr = Field(
        SecretStr(LEGACY_DEFAULT),
        description="bearer token for the service APIs with every scope (the token named `api`); "
        "with env=prod it is ignored while left at its dev default if TOUCHLINE_API_TOKENS is set",
    )
    api_tokens: SecretStr = Field(
        SecretStr(""),
        description="scoped bearer tokens for the service APIs: comma-separated `name:scope:secret`, "
        "scope read (GET), write (changes) or admin (validation, audit log); the console uses the one named `console`",
    )

    @model_validator(mode="after")
    def _refuse_dev_secrets(self) -> CommonSettings:
        legacy_unset = self.api_token.get_secret_value() == LEGACY_DEFAULT
        skip = {"api_token"} if legacy_unset and self.api_tokens.get_secret_value().strip() else set()
        refuse_dev_secrets(self, env=self.env, skip=skip)
        for token in self.scoped_tokens():
            if self.env == "prod":
                _refuse_weak(f"api_tokens ({token.name})", token.secret, env=self.env)
        return self

    def scoped_tokens(self) -> list[Token]:
        """TOUCHLINE_API_TOKENS parsed (raises naming the entry when one is malformed)."""
        return parse_tokens(self.api_tokens.get_secret_value())

    def tokens(self) -> list[Token]:
        """Every token the service APIs accept: the scoped ones, and TOUCHLINE_API_TOKEN as ``api``
        with every scope unless it is left at its dev default outside dev while scoped ones exist."""
        scoped = self.scoped_tokens()
        legacy = self.api_token.get_secret_value()
        if scoped and legacy == LEGACY_DEFAULT and self.env == "prod":
            return scoped
        return [Token(name=LEGACY_NAME, scope="admin", secret=legacy), *scoped]

    def token_named(self, name: str) -> str:
        """The secret of the scoped token ``name``, else TOUCHLINE_API_TOKEN's (what a client sends)."""
        found = next((t for t in self.scoped_tokens() if t.name == name), None)
        return found.secret if found else self.api_token.get_secret_value()


class ServiceSettings(BaseSettings):
    """Base for a service's own settings: its HTTP port and host."""

    model_config = SettingsConfigDict(extra="ignore")

    host: str = Field("127.0.0.1", description="address the service's HTTP server binds")
    port: int = Field(8000, description="port of the service's HTTP server (API, /healthz, /metrics)")


# Tokens and HMAC keys guess-able in an afternoon are no better than the dev defaults.
MIN_SECRET_LENGTH = 16


def refuse_dev_secrets(settings: BaseSettings, *, env: str, skip: set[str] | None = None) -> None:
    """Raise if a secret still holds a ``dev-`` value, or one that has a dev default is empty or
    shorter than MIN_SECRET_LENGTH, while env is prod (an empty API token would let ``Bearer ``
    through)."""
    if env == "dev" or env == "test":
        return
    fields = type(settings).model_fields
    for name, value in settings:
        if not isinstance(value, SecretStr) or name in (skip or set()):
            continue
        secret = value.get_secret_value()
        if secret.startswith(DEV_SECRET_PREFIX):
            raise ValueError(f"{name}: a dev default secret is not allowed when env={env}; set it explicitly")
        default = fields[name].default if name in fields else None
        has_dev_default = isinstance(default, SecretStr) and default.get_secret_value().startswith(DEV_SECRET_PREFIX)
        if has_dev_default and not secret.strip():
            raise ValueError(f"{name}: must not be empty when env={env}")
        if has_dev_default and len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"{name}: must be at least {MIN_SECRET_LENGTH} characters when env={env} "
                "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )


def _refuse_weak(name: str, secret: str, *, env: str) -> None:
    if secret.startswith(DEV_SECRET_PREFIX):
        raise ValueError(f"{name}: a dev default secret is not allowed when env={env}; set it explicitly")
    if len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(
            f"{name}: must be at least {MIN_SECRET_LENGTH} characters when env={env} "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
