"""Settings: environment variables `IDPLUS_*`, optionally a TOML file with the same keys.

The TOML file is read from `IDPLUS_CONFIG_FILE` when set (keys are the field names below in
lower case, e.g. `issuer = "https://id.example.no"`); environment variables win over it.
Settings are validated once at start and never change while the process runs.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography import x509
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from idplus.uris import is_loopback_host

CONFIG_FILE_VARIABLE = "IDPLUS_CONFIG_FILE"
# Bind addresses that mean "every interface": a browser on this machine reaches them as localhost.
_WILDCARD_HOSTS = frozenset({"0.0.0.0", "::"})  # noqa: S104 (recognised, never bound)


def development_issuer(host: str, port: int) -> str:
    """The issuer a development server listening on `host`:`port` is reached at.

    A loopback or wildcard address becomes `localhost` (passkeys need a host name, never an IP
    address, and browsers treat localhost as a secure context); any other host is kept.
    """
    bare = host.strip("[]")
    if bare in _WILDCARD_HOSTS or is_loopback_host(bare.lower()):
        return f"http://localhost:{port}"
    return f"http://[{bare}]:{port}" if ":" in bare else f"http://{bare}:{port}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IDPLUS_", frozen=True, extra="forbid")

    issuer: str = Field(
        "http://127.0.0.1:8000", description="Issuer identifier and public base URL."
    )
    database_url: str = Field(
        "sqlite:///var/idplus.db",
        description="SQLAlchemy URL; sqlite:///path (embedded) or postgresql://… (production).",
    )
    database_pool_size: int = Field(
        10,
        ge=1,
        le=500,
        description="PostgreSQL connections each worker process keeps open. Every instance's "
        "workers × (this + IDPLUS_DATABASE_MAX_OVERFLOW) must stay under the server's "
        "max_connections.",
    )
    database_max_overflow: int = Field(
        10, ge=0, le=500, description="Extra connections a worker may open under a burst."
    )
    worker_threads: int | None = Field(
        None,
        ge=1,
        le=500,
        description="Threads each worker runs blocking work on (the database, upstream "
        "providers); default IDPLUS_DATABASE_POOL_SIZE. More threads than connections only "
        "queue on the pool, and their switching costs a core up to half its requests.",
    )
    database_pool_timeout_seconds: float = Field(
        5.0,
        gt=0,
        le=60,
        description="How long a request waits for a free connection before it is answered 503.",
    )
    database_connect_timeout_seconds: int = Field(
        3,
        ge=1,
        le=60,
        description="How long opening a PostgreSQL connection may take (an unreachable server "
        "is answered 503 after this, never a hang).",
    )
    database_statement_timeout_seconds: float = Field(
        10.0,
        ge=0,
        le=3600,
        description="The longest one PostgreSQL statement of a request or command may run (0: "
        "no bound); one that runs longer is cancelled and answered 503.",
    )
    database_lock_timeout_seconds: float = Field(
        5.0,
        ge=0,
        le=3600,
        description="The longest a PostgreSQL statement waits for a lock (a row another "
        "request holds, a migration's table lock) before it is answered 503.",
    )
    outbox: Path = Field(
        Path("var/outbox.jsonl"), description="File the default SMS / e-mail sender appends to."
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Cookie and CSRF signing key. Required for an https issuer; a development "
        "(http) issuer generates one into the database when it is unset.",
    )
    key_encryption_key: SecretStr | None = Field(
        None,
        description="Private signing keys are stored encrypted with it. Required for an https "
        "issuer; without it (development only) they are stored in plain text.",
    )
    access_token_lifetime: int = Field(3600, gt=0, description="Default access-token seconds.")
    id_token_lifetime: int = Field(3600, gt=0, description="Default ID-token seconds.")
    authorization_code_lifetime: int = Field(60, gt=0, description="Authorization-code seconds.")
    dpop_require_nonce: bool = Field(
        False,
        description="RFC 9449 §8: DPoP proofs at the token, PAR and userinfo endpoints must carry "
        "a server nonce (DPoP-Nonce header; a proof without a current one gets use_dpop_nonce).",
    )
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
    debugger: bool | None = Field(
        None,
        description="Serve the /debugger test client. Unset: only for a loopback (development) "
        "issuer.",
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="Bearer token /metrics requires. Unset: /metrics answers only for a loopback "
        "(development) issuer.",
    )
    metrics_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="Serve /metrics on this port of `idplus serve` (on IDPLUS_METRICS_HOST) "
        "instead of the public one, for a scraper inside the network; IDPLUS_METRICS_TOKEN, if "
        "set, is still required there.",
    )
    metrics_host: str = Field(
        "127.0.0.1",
        min_length=1,
        max_length=255,
        description="The address IDPLUS_METRICS_PORT listens on (0.0.0.0 or :: for a scraper on "
        "another host, e.g. in Kubernetes).",
    )
    trusted_proxies: str = Field(
        "127.0.0.1,::1",
        description="Comma-separated addresses or networks whose X-Forwarded-For / "
        "X-Forwarded-Proto headers are believed; every other peer is its own client address.",
    )
    max_body_bytes: int = Field(
        64 * 1024, gt=0, description="Largest request body any endpoint accepts (413 above)."
    )
    body_timeout_seconds: float = Field(
        10.0, gt=0, description="Seconds a client has to send a whole request body (408 after)."
    )
    max_concurrent_hashes: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        gt=0,
        description="Password hashes (argon2id) verified at once per worker; logins beyond "
        "that are shed with 503 and Retry-After. Default: the core count.",
    )
    login_failures_per_username: int = Field(
        5, gt=0, description="Wrong passwords per username before it is locked for a while."
    )
    login_failures_per_address: int = Field(
        30, gt=0, description="Wrong passwords per client address before it is locked."
    )
    login_lock_seconds: int = Field(
        900,
        gt=0,
        description="The window those attempts are counted in; a full window refuses until it "
        "ends.",
    )
    otp_max_attempts: int = Field(
        5, gt=0, description="Wrong one-time codes per login, counted across resends."
    )
    password_reset_code_failures_per_day: int = Field(
        10,
        gt=0,
        description="Wrong password-reset codes per name in 24 hours, across all its resets "
        "(names of nobody are counted alike); a right code gives its attempt back.",
    )
    otp_max_resends: int = Field(3, ge=0, description="New codes a user may ask for per login.")
    otp_resend_interval_seconds: int = Field(
        30, ge=0, description="Seconds between two codes sent for the same login."
    )
    delivery_attempts: int = Field(
        5,
        gt=0,
        description="Tries of an outbound delivery (back-channel logout …) before giving up.",
    )
    delivery_backoff_seconds: float = Field(
        1.0, gt=0, description="Wait before the second try of a delivery; doubled after each."
    )
    delivery_timeout_seconds: float = Field(
        5.0, gt=0, description="How long one delivery attempt may take."
    )
    delivery_lease_margin_seconds: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="How long a delivery's claim outlives its attempt's timeout (time to store "
        "the outcome). A delivery whose instance died is sent again by another after both; "
        "too short, and a slow store lets two instances send it.",
    )
    registry_poll_seconds: float = Field(
        0.5,
        gt=0,
        le=60,
        description="How often each worker checks whether a client, key, API product or "
        "upstream provider changed; a change reaches every worker within this (and a query).",
    )
    outbox_poll_seconds: float = Field(
        1.0,
        gt=0,
        description="How often each worker looks for due deliveries (new ones go at once).",
    )
    login_sms_per_phone_per_hour: int = Field(
        10, gt=0, description="Login SMS codes sent to one phone number per hour (toll fraud)."
    )
    ciba_sms_per_phone_per_hour: int = Field(
        30, gt=0, description="CIBA approval SMS sent to one phone number per hour (flooding)."
    )
    ciba_sms_per_client_and_phone_per_hour: int = Field(
        10,
        gt=0,
        description="CIBA approval SMS one client may have sent to one phone number per hour, "
        "so no client uses up a number's whole budget.",
    )
    ciba_poll_interval_seconds: int = Field(
        5, ge=1, le=60, description="The interval CIBA clients are told to poll at (seconds)."
    )
    audit_retention_days: int = Field(
        365,
        ge=1,
        description="Days audit events are kept; `idplus db prune` deletes older ones (failed "
        "logins are recorded too, so the trail must not grow forever).",
    )
    webauthn_rp_id: str | None = Field(
        None,
        description="The WebAuthn relying-party id passkeys are bound to. Unset: the issuer's "
        "host. It must be that host or a parent domain of it; passkeys registered under one "
        "rp id never work under another.",
    )
    webauthn_attestation_roots: Path | None = Field(
        None,
        description="A PEM file of root certificates (e.g. from the FIDO metadata service) that "
        "passkey attestations are verified against; only a passkey attested by one of them "
        "and bound to one device reaches urn:telenor.identity.aal.3. Unset: attestation is "
        "not asked for.",
    )
    log_level: str = Field("INFO", description="Python log level name.")
    access_log: Literal["all", "errors"] = Field(
        "errors",
        description="Log every request, or only failed (4xx/5xx) and slow ones; every request "
        "is counted in /metrics either way.",
    )
    log_json: bool = Field(True, description="JSON log lines (false: human-readable console).")
    timezone: str = Field(
        "Europe/Oslo",
        description="IANA time zone the pages show times in (the account page's last activity).",
    )

    @field_validator("issuer")
    @classmethod
    def _issuer_is_a_base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("issuer must be an absolute http(s) URL")
        _ = parts.port  # a malformed or out-of-range port raises ValueError here
        if parts.query or parts.fragment:
            raise ValueError("issuer must not have a query or fragment (OIDC Discovery §3)")
        # Scheme and host are case-insensitive: store them one way, so that every check of
        # them (https? loopback?) sees what a browser sees.
        normal = parts._replace(scheme=parts.scheme.lower(), netloc=parts.netloc.lower())
        return urlunsplit(normal).rstrip("/")

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: str) -> str:
        # uvicorn would take a typo as a literal that never matches: say so at start instead.
        for entry in (e.strip() for e in value.split(",")):
            if entry == "*":
                continue
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"trusted_proxies: {entry!r} is not an address or network"
                ) from None
        return value

    @field_validator("webauthn_rp_id")
    @classmethod
    def _rp_id_is_a_host_name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host = value.strip().lower()
        if not host or any(c in host for c in "/:@[] ") or host.startswith("."):
            raise ValueError(
                f"webauthn_rp_id: {value!r} must be a host name such as id.example.no "
                "(no scheme, port or path)"
            )
        return host

    @field_validator("webauthn_attestation_roots")
    @classmethod
    def _roots_are_certificates(cls, value: Path | None) -> Path | None:
        # A typo must stop the start, not quietly turn every attestation into "not verified".
        if value is None:
            return None
        try:
            certificates = x509.load_pem_x509_certificates(value.read_bytes())
        except OSError as exc:
            raise ValueError(f"webauthn_attestation_roots: cannot read {value}: {exc}") from None
        except ValueError:
            certificates = []
        if not certificates:
            raise ValueError(f"webauthn_attestation_roots: {value} holds no PEM certificate")
        return value

    @model_validator(mode="after")
    def _rp_id_covers_the_issuer(self) -> Settings:
        host = urlsplit(self.issuer).hostname or ""
        rp_id = self.webauthn_rp_id
        if rp_id is not None and host != rp_id and not host.endswith(f".{rp_id}"):
            raise ValueError(
                f"webauthn_rp_id {rp_id!r} must be the issuer's host {host!r} or a parent "
                "domain of it (browsers refuse any other)"
            )
        return self

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("log_level must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        # A directory name such as Europe is an OSError, not a missing zone.
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(
                f"timezone: {value!r} is not an IANA time zone such as Europe/Oslo"
            ) from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The operator's time zone (validated at start)."""
        return ZoneInfo(self.timezone)

    @property
    def issuer_is_https(self) -> bool:
        return self.issuer.startswith("https://")

    @property
    def key_encryption_key_value(self) -> str | None:
        """The key-encryption key, or None (development: secrets at rest in plain text)."""
        return self.key_encryption_key.get_secret_value() if self.key_encryption_key else None

    @property
    def issuer_is_loopback(self) -> bool:
        """A development issuer (127.0.0.1, ::1, localhost): conveniences stay on by default."""
        return is_loopback_host(urlsplit(self.issuer).hostname)

    @property
    def issuer_is_development(self) -> bool:
        """A plain-http loopback issuer: pages may show development hints (the outbox)."""
        return self.issuer_is_loopback and not self.issuer_is_https

    @property
    def debugger_enabled(self) -> bool:
        return self.debugger if self.debugger is not None else self.issuer_is_loopback

    def served_port_problem(self, port: int) -> str | None:
        """Why browsers will miss a server listening on `port`, or None.

        A loopback issuer is where browsers and clients are sent: when it names another port
        than the one served, every login ends on a port nothing answers (a public issuer is
        usually a proxy in front, so its port says nothing about ours).
        """
        if not self.issuer_is_loopback:
            return None
        parts = urlsplit(self.issuer)
        issuer_port = parts.port or (443 if parts.scheme == "https" else 80)
        if issuer_port == port:
            return None
        return (
            f"the issuer {self.issuer} names port {issuer_port}, but this server listens on "
            f"port {port}: browsers and clients will be sent to port {issuer_port}. Set "
            f"IDPLUS_ISSUER={development_issuer(parts.hostname or 'localhost', port)} "
            "(make run derives it from HOST and PORT)"
        )

    def production_secrets_problem(self) -> str | None:
        """Why this configuration must not serve, or None.

        With an https issuer, a copy of the database alone must not be enough to forge cookies
        or sign tokens: the cookie key and the key-encryption key come from outside it.
        """
        if not self.issuer_is_https:
            return None
        missing = [
            name
            for name, value in (
                ("IDPLUS_SECRET_KEY", self.secret_key),
                ("IDPLUS_KEY_ENCRYPTION_KEY", self.key_encryption_key),
            )
            if value is None or not value.get_secret_value()
        ]
        if not missing:
            return None
        return (
            f"an https issuer needs {' and '.join(missing)} set outside the database "
            "(see SECURITY.md)"
        )

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
