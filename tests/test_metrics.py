"""The identity counters: their names and label sets as Prometheus exposes them, the SMS
counting of every sender, and the throttle's report of the attempt that locks a key."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry

from idplus.auth.sender import CountingSender, Message
from idplus.auth.throttle import password_keys, reserve
from idplus.config import Settings
from idplus.metrics import (
    DeliveryResult,
    IdentityMetrics,
    LockoutScope,
    LoginMethod,
    SmsPurpose,
    TokenKind,
)
from idplus.store.base import Store

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> IdentityMetrics:
    return IdentityMetrics(registry)


def test_each_counter_has_its_name_and_labels(
    metrics: IdentityMetrics, registry: CollectorRegistry
) -> None:
    metrics.login_succeeded(LoginMethod.PASSWORD_SMS_CODE)
    metrics.login_refused(LoginMethod.PASSWORD, "invalid_credentials")
    metrics.locked_out(LockoutScope.ADDRESS)
    metrics.sms(SmsPurpose.PASSWORD_RESET, sent=False)
    metrics.tokens_issued("refresh_token", "Confidential", [TokenKind.ACCESS_TOKEN])
    metrics.refresh_token_reused("MobileApp")
    metrics.delivery("ciba_ping", DeliveryResult.ABANDONED)
    metrics.device_decided(approved=False)
    metrics.ciba_decided(approved=True)

    expected = {
        "idplus_logins_total": [
            {"method": "password_sms_code", "result": "success"},
            {"method": "password", "result": "invalid_credentials"},
        ],
        "idplus_lockouts_total": [{"scope": "address"}],
        "idplus_sms_total": [{"purpose": "password_reset", "result": "failed"}],
        "idplus_tokens_issued_total": [
            {"grant_type": "refresh_token", "client_type": "Confidential", "token": "access_token"}
        ],
        "idplus_refresh_token_reuse_total": [{"client_type": "MobileApp"}],
        "idplus_backchannel_deliveries_total": [{"kind": "ciba_ping", "result": "abandoned"}],
        "idplus_device_decisions_total": [{"decision": "denied"}],
        "idplus_ciba_decisions_total": [{"decision": "approved"}],
    }
    for name, label_sets in expected.items():
        for label_set in label_sets:
            assert registry.get_sample_value(name, label_set) == 1, (name, label_set)


def test_repeated_counts_add_up_on_the_same_child(
    metrics: IdentityMetrics, registry: CollectorRegistry
) -> None:
    for _ in range(3):
        metrics.tokens_issued(
            "authorization_code", "Public", [TokenKind.ACCESS_TOKEN, TokenKind.ID_TOKEN]
        )
    for token in ("access_token", "id_token"):
        sample = {"grant_type": "authorization_code", "client_type": "Public", "token": token}
        assert registry.get_sample_value("idplus_tokens_issued_total", sample) == 3


def test_two_applications_count_apart(registry: CollectorRegistry) -> None:
    """Each app has its own registry: nothing lands on prometheus_client's global one."""
    other = CollectorRegistry()
    IdentityMetrics(registry).ciba_decided(approved=True)
    IdentityMetrics(other)
    approved = {"decision": "approved"}
    assert registry.get_sample_value("idplus_ciba_decisions_total", approved) == 1
    assert other.get_sample_value("idplus_ciba_decisions_total", approved) is None


class _Flaky:
    def __init__(self) -> None:
        self.failing = False
        self.sent: list[Message] = []

    def send(self, message: Message) -> None:
        if self.failing:
            raise OSError("down")
        self.sent.append(message)


def test_the_counting_sender_counts_sms_by_purpose_and_passes_failures_on(
    metrics: IdentityMetrics, registry: CollectorRegistry
) -> None:
    inner = _Flaky()
    sender = CountingSender(inner, metrics)
    sms = Message("+4790000001", "sms", "123456", NOW, code="123456", purpose=SmsPurpose.LOGIN_CODE)
    sender.send(sms)
    sender.send(Message("kari@example.no", "email", "Hei", NOW, purpose=SmsPurpose.LOGIN_CODE))
    inner.failing = True
    with pytest.raises(OSError, match="down"):
        sender.send(sms)

    assert inner.sent[0] == sms
    sent = {"purpose": "login_code", "result": "sent"}
    failed = {"purpose": "login_code", "result": "failed"}
    assert registry.get_sample_value("idplus_sms_total", sent) == 1  # the e-mail is no SMS
    assert registry.get_sample_value("idplus_sms_total", failed) == 1


def test_reserve_names_the_budgets_this_attempt_filled(store: Store) -> None:
    """The fifth attempt fills the username's window (5) but not the address's (30): that
    attempt, if it fails, is the one that locks the name."""
    keys = password_keys(Settings(), "+4790000001", "10.0.0.1")
    filled = []
    for _ in range(5):
        with store.transaction() as uow:
            filled.append([rule.lockout_scope for rule in reserve(uow, keys, NOW)])
    assert filled == [[], [], [], [], [LockoutScope.USERNAME]]
