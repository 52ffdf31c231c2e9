"""Console settings (env prefix ``TOUCHLINE_CONSOLE_``).

The dev-secret check needs TOUCHLINE_ENV, so main.build_app runs it with the common settings.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from touchline.shared.settings import ServiceSettings


class ConsoleSettings(ServiceSettings):
    """Where the console listens, which service APIs it reads, and how it keeps CSM sessions."""

    model_config = SettingsConfigDict(env_prefix="TOUCHLINE_CONSOLE_", extra="ignore")

    port: int = Field(8005, description="port of the CSM web console")
    health_url: str = Field("http://127.0.0.1:8002", description="base URL of the health service API")
    touch_url: str = Field("http://127.0.0.1:8003", description="base URL of the touch service API")
    notify_url: str = Field("http://127.0.0.1:8004", description="base URL of the notify service API")
    session_secret: SecretStr = Field(
        SecretStr("dev-console-session-secret"), description="HMAC key signing session cookies and CSRF tokens"
    )
    session_hours: float = Field(12.0, description="a CSM session lasts this long after login")
    users_file: str = Field(".touchline/console/users.yaml", description="YAML file of CSM users (see `adduser`)")
    page_size: int = Field(50, description="accounts per page in the account list", ge=5, le=500)
    default_locale: str = Field("ja", description="language before a CSM chooses one (ja or en)")
    api_timeout: float = Field(5.0, description="seconds before a service API call is given up")
    ingest_url: str = Field("http://127.0.0.1:8001", description="base URL of ingest (the CSV import page posts there)")
    import_write_key: SecretStr = Field(
        SecretStr(""), description="ingest write key the CSV import page uses; empty = the import page is off"
    )
