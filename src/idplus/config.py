"""Settings: environment variables `IDPLUS_*`, optionally a TOML file with the same keys.

The TOML file is read from `IDPLUS_CONFIG_FILE` when set (keys are the field names below in
lower case, e.g. `issuer = "https://id.example.no"`); environment variables win over it.
Settings are validated once at start and never change while the process runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_FILE_VARIABLE = "IDPLUS_CONFIG_FILE"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IDPLUS_", frozen=True, extra="forbid")

    issuer: str = Field(
        "http://127.0.0.1:8000", description="Issuer identifier and public base URL."
    )
    database_url: str = Field(
        "sqlite:///var/idplus.db",
        description="SQLAlchemy URL; sqlite:///path (embedded) or postgresql://… (production).",
    )
    outbox: Path = Field(
        Path("var/outbox.jsonl"), description="File the default SMS / e-mail sender appends to."
    )
    secret_key: SecretStr | None = Field(
        None, description="Cookie and CSRF signing key; generated into the database when unset."
    )
    key_encryption_key: SecretStr | None = Field(
        None, description="When set, private signing keys are stored encrypted with it."
    )
    access_token_lifetime: int = Field(3600, gt=0, description="Default access-token seconds.")
    id_token_lifetime: int = Field(3600, gt=0, description="Default ID-token seconds.")
    authorization_code_lifetime: int = Field(60, gt=0, description="Authorization-code seconds.")
    sso_session_lifetime: int = Field(
        36000,
        gt=0,
        description="Seconds a browser-session SSO session lives server-side without use "
        "(remember-me and MobileApp sessions use SPEC §6's 14 and 90 days).",
    )
    interaction_lifetime: int = Field(
        900, gt=0, description="Seconds a user has to finish the login pages."
    )
    client_cache_seconds: int = Field(
        5, ge=0, description="How long a worker trusts its cached copy of a client."
    )
    key_cache_seconds: int = Field(
        10,
        gt=0,
        description="How often a worker rereads the signing keys. A rotated key starts signing "
        "two such periods after it is published, so every worker publishes it first.",
    )
    debugger: bool = Field(
        True,
        description="Serve the /debugger test client (turn off where only real clients belong).",
    )
    log_level: str = Field("INFO", description="Python log level name.")
    access_log: Literal["all", "errors"] = Field(
        "errors",
        description="Log every request, or only failed (4xx/5xx) and slow ones; every request "
        "is counted in /metrics either way.",
    )
    log_json: bool = Field(True, description="JSON log lines (false: human-readable console).")

    @field_validator("issuer")
    @classmethod
    def _issuer_is_a_base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("issuer must be an absolute http(s) URL")
        if parts.query or parts.fragment:
            raise ValueError("issuer must not have a query or fragment (OIDC Discovery §3)")
        return value.rstrip("/")

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("log_level must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @property
    def issuer_is_https(self) -> bool:
        return self.issuer.startswith("https://")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_FILE_VARIABLE)
        if config_file:
            if not Path(config_file).is_file():
                raise ValueError(f"{CONFIG_FILE_VARIABLE} names a missing file: {config_file}")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)
