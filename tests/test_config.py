"""Settings come from IDPLUS_* variables and an optional TOML file, validated at start."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from idplus.config import Settings, development_issuer


def test_defaults_match_the_interface() -> None:
    settings = Settings()
    assert settings.issuer == "http://127.0.0.1:8000"
    assert settings.database_url == "sqlite:///var/idplus.db"
    assert settings.outbox == Path("var/outbox.jsonl")
    assert settings.secret_key is None


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDPLUS_ISSUER", "https://id.example.no/")
    monkeypatch.setenv("IDPLUS_DATABASE_URL", "postgresql://db/idplus")
    settings = Settings()
    assert settings.issuer == "https://id.example.no"
    assert settings.issuer_is_https
    assert settings.database_url == "postgresql://db/idplus"


def test_toml_file_holds_the_same_keys_and_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "idplus.toml"
    config.write_text('issuer = "https://from-file.example"\naccess_token_lifetime = 600\n')
    monkeypatch.setenv("IDPLUS_CONFIG_FILE", str(config))
    assert Settings().issuer == "https://from-file.example"
    assert Settings().access_token_lifetime == 600
    monkeypatch.setenv("IDPLUS_ISSUER", "https://from-env.example")
    assert Settings().issuer == "https://from-env.example"


@pytest.mark.parametrize("issuer", ["ftp://x.example", "https://x.example/?a=b", "not a url"])
def test_issuer_must_be_a_plain_http_url(issuer: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        Settings(issuer=issuer)


def test_secrets_are_not_shown_in_the_settings_repr() -> None:
    settings = Settings(secret_key="very-secret-value", key_encryption_key="kek-value")
    assert "very-secret-value" not in repr(settings)
    assert "kek-value" not in repr(settings)


def test_trusted_proxies_take_addresses_and_networks_and_refuse_typos() -> None:
    assert Settings(trusted_proxies="10.0.0.0/8, ::1,192.0.2.7").trusted_proxies
    with pytest.raises(pydantic.ValidationError, match="not an address"):
        Settings(trusted_proxies="10.0.0.1,lb.example")


@pytest.mark.parametrize(
    ("issuer", "debugger", "expected"),
    [
        ("http://127.0.0.1:8000", None, True),
        ("http://localhost:8000", None, True),
        ("https://id.example.no", None, False),
        ("https://id.example.no", True, True),
        ("http://127.0.0.1:8000", False, False),
    ],
)
def test_the_debugger_is_on_by_default_only_for_a_loopback_issuer(
    issuer: str, debugger: bool | None, expected: bool
) -> None:
    assert Settings(issuer=issuer, debugger=debugger).debugger_enabled is expected


def test_an_uppercase_https_issuer_is_still_held_to_production_rules() -> None:
    settings = Settings(issuer="HTTPS://ID.Example.NO/")
    assert settings.issuer == "https://id.example.no"
    assert settings.issuer_is_https
    assert settings.production_secrets_problem() is not None


@pytest.mark.parametrize(
    ("host", "port", "issuer"),
    [
        ("127.0.0.1", 8300, "http://localhost:8300"),
        ("localhost", 8000, "http://localhost:8000"),
        ("::1", 8300, "http://localhost:8300"),
        ("0.0.0.0", 9000, "http://localhost:9000"),  # noqa: S104
        ("::", 9000, "http://localhost:9000"),
        ("192.168.1.20", 8300, "http://192.168.1.20:8300"),
        ("fd00::5", 8300, "http://[fd00::5]:8300"),
    ],
)
def test_development_issuer_names_loopback_and_wildcard_binds_localhost(
    host: str, port: int, issuer: str
) -> None:
    assert development_issuer(host, port) == issuer
    assert Settings(issuer=issuer).issuer == issuer


@pytest.mark.parametrize(
    ("issuer", "port"),
    [
        ("http://localhost:8300", 8300),
        ("http://127.0.0.1:8000", 8000),
        ("http://localhost", 80),
        ("https://id.example.no", 8000),  # behind a proxy: its port says nothing about ours
        ("http://id.example.no:8000", 8300),
    ],
)
def test_served_port_is_fine_when_the_issuer_names_it_or_is_not_loopback(
    issuer: str, port: int
) -> None:
    assert Settings(issuer=issuer).served_port_problem(port) is None


def test_a_loopback_issuer_on_another_port_than_the_one_served_is_a_problem() -> None:
    problem = Settings(issuer="http://127.0.0.1:8000").served_port_problem(8300)
    assert problem is not None
    assert "port 8000" in problem
    assert "IDPLUS_ISSUER=http://localhost:8300" in problem


@pytest.mark.parametrize("issuer", ["http://localhost:99999", "http://localhost:port"])
def test_an_issuer_with_a_bad_port_is_refused_at_start(issuer: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        Settings(issuer=issuer)


@pytest.mark.parametrize(
    ("issuer", "development"),
    [
        ("http://localhost:8000", True),
        ("http://127.0.0.1:8000", True),
        ("http://[::1]:8000", True),
        ("https://localhost:8443", False),
        ("http://id.example.no", False),
    ],
)
def test_only_a_plain_http_loopback_issuer_is_development(issuer: str, development: bool) -> None:
    assert Settings(issuer=issuer).issuer_is_development is development


def test_times_are_shown_in_oslo_unless_the_operator_names_another_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().timezone == "Europe/Oslo"
    assert Settings().zone.key == "Europe/Oslo"
    monkeypatch.setenv("IDPLUS_TIMEZONE", "America/New_York")
    assert Settings().zone.key == "America/New_York"


@pytest.mark.parametrize("zone", ["Oslo", "europe/oslo", "Europe", "", "../etc/passwd", "UTC+1"])
def test_an_unknown_time_zone_is_refused_at_start(zone: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="not an IANA time zone"):
        Settings(timezone=zone)
