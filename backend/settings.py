"""Typed settings from KNOPFDRUCK_* environment variables; built by a function, never at import."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of a Knopfdruck process. Defaults give the embedded, single-process setup."""

    model_config = SettingsConfigDict(env_prefix="KNOPFDRUCK_", extra="ignore")

    base_url: str = Field(
        "http://127.0.0.1:8000",
        description="Public URL of the portal, used in links and redirects.",
    )
    data_dir: Path = Field(
        Path("var"), description="Directory for the SQLite file and local secrets."
    )
    database_url: str = Field(
        "", description="SQLAlchemy URL. Empty: a SQLite file in data_dir (the embedded default)."
    )
    services_dir: Path = Field(
        Path("services"), description="Folder holding one folder per service."
    )
    sandbox: bool = Field(
        True, description="Mount the sandbox identity provider and registries in this process."
    )
    oidc_issuer: str = Field(
        "", description="OIDC issuer URL. Empty: the in-process sandbox provider at base_url."
    )
    oidc_client_id: str = Field(
        "knopfdruck-portal", description="Client id of the portal at the IdP."
    )
    oidc_audience: str = Field(
        "knopfdruck", description="Audience that API access tokens must carry."
    )
    registry_base_url: str = Field(
        "", description="Base URL of the registries. Empty: the in-process sandbox registries."
    )
    registry_timeout_s: float = Field(5.0, description="Timeout of one registry request.")
    worker_in_process: bool = Field(
        True, description="Run the case worker inside the web process (embedded default)."
    )
    worker_concurrency: int = Field(4, description="Cases one worker process handles at once.")
    session_idle_minutes: int = Field(30, description="Portal session idle timeout.")
    secret_key: str = Field(
        "", description="Key for signing portal state. Empty: generated once into data_dir."
    )
    authority_name: str = Field(
        "Stadt Köln – Bürgeramt", description="Issuing authority printed on notices."
    )

    @model_validator(mode="after")
    def _derive(self) -> Settings:
        base = self.base_url.rstrip("/")
        self.base_url = base
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'knopfdruck.db').as_posix()}"
        if not self.oidc_issuer:
            self.oidc_issuer = f"{base}/sandbox/idp"
        if not self.registry_base_url:
            self.registry_base_url = f"{base}/sandbox/registries"
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_local(self) -> bool:
        """Plain HTTP is allowed only on loopback (Secure cookies and HSTS elsewhere)."""
        return self.base_url.startswith(("http://127.0.0.1", "http://localhost", "http://[::1]"))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
