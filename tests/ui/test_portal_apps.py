"""The portal's apps: a secret shown once (in the answer that made it, never on a reload),
copy-paste examples that work, rotation with an overlap and a confirmation, deletion, API
product requests; another company's app is "not found"."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest

from idplus.models import SUBSCRIPTION_REJECTED, SubscriptionRequest
from tests.flows.forms import parse_forms
from tests.harness import Harness, basic
from tests.ui.staff_browser import (
    DEVELOPER,
    OTHER_DEVELOPER,
    StaffBrowser,
    add_people,
    check_page_structure,
)
from tests.ui.test_portal import create_company

_SECRET = re.compile(r'id="client_secret" value="([^"]+)"')


@pytest.fixture
def developer(harness: Harness) -> StaffBrowser:
    add_people(harness, DEVELOPER, OTHER_DEVELOPER)
    browser = StaffBrowser(harness)
    browser.login(DEVELOPER)
    return browser


def create_app(browser: StaffBrowser, company_id: str, **fields: Any) -> tuple[str, Any]:
    """A Confidential client_credentials app: its id, and the answer that made it."""
    form = browser.get(f"/portal/apps/new?company_id={company_id}")
    assert form.status_code == 200
    values = {"name": "TV back end", "type": "Confidential", "company_id": company_id,
              "grant_types": ["client_credentials"], **fields}  # fmt: skip
    created = browser.post("/portal/apps/new", "create", **values)
    assert created.status_code == 201, created.text
    (client_id,) = set(re.findall(r'action="/portal/apps/(app-[0-9a-f]+)"', created.text))
    return client_id, created


def _cache_expires(h: Harness) -> None:
    """Client changes reach the token endpoint within client_cache_seconds."""
    h.clock.advance(timedelta(seconds=h.settings.client_cache_seconds))


def _token(h: Harness, client_id: str, secret: str) -> Any:
    return h.http.post("/connect/token", data={"grant_type": "client_credentials"},
                       headers=basic(client_id, secret))  # fmt: skip


def test_the_secret_is_shown_once_and_works(developer: StaffBrowser) -> None:
    h = developer.h
    company_id = create_company(developer)
    client_id, created = create_app(developer, company_id)
    (secret,) = _SECRET.findall(created.text)
    assert created.text.count(secret) == 1
    assert "Copy it now: it is shown this once and never again." in created.text
    assert created.headers["cache-control"] == "no-store"
    check_page_structure(created.text)
    # Not after a reload, nor anywhere in the audit trail.
    again = developer.get(f"/portal/apps/{client_id}")
    assert again.status_code == 200
    assert secret not in again.text
    assert 'id="client_secret"' not in again.text
    assert all(secret not in str(e.detail) for e in h.audit_events())
    assert _token(h, client_id, secret).status_code == 200


def test_the_app_page_shows_examples_with_its_own_values(developer: StaffBrowser) -> None:
    company_id = create_company(developer)
    client_id, _ = create_app(
        developer, company_id, grant_types=["authorization_code", "client_credentials"],
        redirect_uris="https://tv.example/cb\nhttps://tv.example/cb2",
    )  # fmt: skip
    page = developer.get(f"/portal/apps/{client_id}")
    text = page.text.replace("&#34;", '"')
    assert "http://127.0.0.1:8000/.well-known/openid-configuration" in text
    assert "curl -s http://127.0.0.1:8000/connect/token" in text
    assert f'-u "{client_id}:$CLIENT_SECRET"' in text
    assert "-d grant_type=client_credentials" in text
    assert f"client_id={client_id}&amp;response_type=code" in text
    assert "redirect_uri=https%3A%2F%2Ftv.example%2Fcb&amp;" in text
    assert "<code>https://tv.example/cb2</code>" in text
    check_page_structure(page.text)


def test_an_app_in_norwegian(developer: StaffBrowser) -> None:
    company_id = create_company(developer)
    client_id, _ = create_app(developer, company_id)
    page = developer.get(f"/portal/apps/{client_id}?locale=nb")
    assert "Eksempler" in page.text
    assert "Lag en ny hemmelighet" in page.text
    form = developer.get(f"/portal/apps/new?company_id={company_id}&locale=nb")
    assert "<h1>Ny app</h1>" in form.text
    check_page_structure(form.text)


def test_rotation_asks_first_shows_the_new_secret_once_and_keeps_the_old_a_while(
    developer: StaffBrowser,
) -> None:
    h = developer.h
    company_id = create_company(developer)
    client_id, created = create_app(developer, company_id)
    (old,) = _SECRET.findall(created.text)
    developer.get(f"/portal/apps/{client_id}")
    asked = developer.post(f"/portal/apps/{client_id}", "rotate", overlap_hours="1")
    assert "Make a new secret for TV back end?" in asked.text
    assert 'name="overlap_hours" value="1"' in asked.text
    assert h.audit_events("client.secret_rotated") == []
    rotated = developer.confirm(asked)
    assert rotated.status_code == 200
    (new,) = _SECRET.findall(rotated.text)
    assert new != old and rotated.text.count(new) == 1
    assert new not in developer.get(f"/portal/apps/{client_id}").text
    assert _token(h, client_id, new).status_code == 200
    assert _token(h, client_id, old).status_code == 200  # for the overlap's hour
    # The old one can be stopped now (asks first).
    page = developer.get(f"/portal/apps/{client_id}")
    (old_id,) = re.findall(r'name="secret_id" value="([^"]+)"', page.text)
    asked = developer.post(f"/portal/apps/{client_id}", "revoke_secret", secret_id=old_id)
    stopped = developer.confirm(asked)
    assert stopped.headers["location"].endswith("?notice=secret_revoked")
    _cache_expires(h)
    assert _token(h, client_id, old).status_code == 401
    assert _token(h, client_id, new).status_code == 200


def test_a_rotation_sent_again_is_refused_not_redone(developer: StaffBrowser) -> None:
    """A reload of the answer that showed the new secret (a browser without JavaScript posts
    the form again) meets the version the form was made on: 412, and no second rotation."""
    h = developer.h
    company_id = create_company(developer)
    client_id, created = create_app(developer, company_id)
    assert 'history.replaceState(null, "", "/portal/apps/' in created.text
    page = developer.get(f"/portal/apps/{client_id}")
    (form,) = [f for f in parse_forms(page.text) if ("action", "rotate") in f.buttons]
    assert form.fields["version"]
    asked = h.http.post(form.action, data={**form.fields, "action": "rotate"})
    (confirm,) = [f for f in parse_forms(asked.text) if "confirmed" in f.fields]
    data = {**confirm.fields, "action": "rotate"}
    assert h.http.post(confirm.action, data=data).status_code == 200
    again = h.http.post(confirm.action, data=data)
    assert again.status_code == 412
    assert "Someone changed this while you were looking." in again.text
    assert not _SECRET.findall(again.text)
    assert len(h.audit_events("client.secret_rotated")) == 1


def test_deleting_an_app_asks_first(developer: StaffBrowser) -> None:
    h = developer.h
    company_id = create_company(developer)
    client_id, created = create_app(developer, company_id)
    (secret,) = _SECRET.findall(created.text)
    developer.get(f"/portal/apps/{client_id}")
    asked = developer.post(f"/portal/apps/{client_id}", "delete")
    assert "Delete the app TV back end?" in asked.text
    assert _token(h, client_id, secret).status_code == 200
    done = developer.confirm(asked)
    assert done.headers["location"] == f"/portal/companies/{company_id}?notice=app_deleted"
    assert developer.get(f"/portal/apps/{client_id}").status_code == 404
    _cache_expires(h)
    assert _token(h, client_id, secret).status_code == 401


def test_a_company_with_apps_is_not_deleted(developer: StaffBrowser) -> None:
    company_id = create_company(developer)
    create_app(developer, company_id)
    developer.get(f"/portal/companies/{company_id}")
    refused = developer.post(f"/portal/companies/{company_id}", "delete", confirmed="yes")
    assert refused.status_code == 409
    assert "delete them first" in refused.text


def test_a_refused_setting_keeps_what_was_typed(developer: StaffBrowser) -> None:
    company_id = create_company(developer)
    developer.get(f"/portal/apps/new?company_id={company_id}")
    refused = developer.post(
        "/portal/apps/new", "create", company_id=company_id, name="Web", type="Public",
        redirect_uris="not a uri",
    )  # fmt: skip
    assert refused.status_code == 400
    assert "The change was refused." in refused.text
    assert 'value="Web"' in refused.text
    assert ">not a uri</textarea>" in refused.text
    assert developer.h.audit_events("client.added")[-1].client_id == "idplus-console"


def test_settings_are_changed(developer: StaffBrowser) -> None:
    company_id = create_company(developer)
    client_id, _ = create_app(developer, company_id, type="Public", grant_types=[])
    developer.get(f"/portal/apps/{client_id}")
    changed = developer.post(f"/portal/apps/{client_id}", "update", name="Web shop",
                             redirect_uris="https://shop.example/cb")  # fmt: skip
    assert changed.headers["location"].endswith("?notice=app_changed")
    page = developer.get(changed.headers["location"])
    assert "<h1>Web shop</h1>" in page.text
    assert "<code>https://shop.example/cb</code>" in page.text


def test_another_companys_app_is_not_found(developer: StaffBrowser) -> None:
    company_id = create_company(developer)
    client_id, _ = create_app(developer, company_id)
    developer.login(OTHER_DEVELOPER)
    assert developer.get(f"/portal/apps/{client_id}").status_code == 404
    refused = developer.post(f"/portal/apps/{client_id}", "delete", confirmed="yes")
    assert refused.status_code == 404
    assert developer.get(f"/portal/apps/new?company_id={company_id}").status_code == 404
    # An operator's client is no app of anyone's.
    assert developer.get("/portal/apps/idplus-console").status_code == 404


def test_an_app_asks_for_an_api_product_and_may_withdraw(developer: StaffBrowser) -> None:
    h = developer.h
    h.add_api_products("api:tv")
    company_id = create_company(developer)
    client_id, _ = create_app(developer, company_id)
    page = developer.get(f"/portal/apps/{client_id}")
    assert '<option value="api:tv">' in page.text
    asked = developer.post(f"/portal/apps/{client_id}", "request_api", scope="api:tv")
    assert asked.headers["location"].endswith("?notice=requested")
    page = developer.get(asked.headers["location"])
    assert "Waiting for an operator" in page.text
    assert '<option value="api:tv">' not in page.text  # asked already
    again = developer.post(f"/portal/apps/{client_id}", "request_api", scope="api:tv")
    assert again.status_code == 409
    (request_id,) = re.findall(r'name="request_id" value="([^"]+)"', page.text)
    withdrawn = developer.post(f"/portal/apps/{client_id}", "cancel_request",
                               request_id=request_id)  # fmt: skip
    assert withdrawn.headers["location"].endswith("?notice=request_cancelled")
    assert "Waiting for an operator" not in developer.get(f"/portal/apps/{client_id}").text


def test_a_long_history_never_hides_a_pending_request(developer: StaffBrowser) -> None:
    """The page shows the app's latest requests and, however many came after it, the one
    still waiting: it is not offered again (which would only be refused)."""
    h = developer.h
    h.add_api_products("api:tv", "api:music")
    client_id, _ = create_app(developer, create_company(developer))
    developer.get(f"/portal/apps/{client_id}")
    asked = developer.post(f"/portal/apps/{client_id}", "request_api", scope="api:tv")
    assert asked.status_code == 303
    later = h.clock.now() + timedelta(minutes=1)
    decided = [
        SubscriptionRequest(
            id=uuid.uuid4().hex,
            client_id=client_id,
            scope="api:music",
            status=SUBSCRIPTION_REJECTED,
            requested_by="user:x",
            requested_at=later + timedelta(seconds=n),
            decided_by="user:op",
            decided_at=later + timedelta(seconds=n),
            reason=f"no {n}",
        )
        for n in range(60)
    ]
    store = h.store()
    try:
        with store.transaction() as uow:
            for request in decided:
                assert uow.subscription_requests.insert(request)
    finally:
        store.dispose()
    page = developer.get(f"/portal/apps/{client_id}")
    assert "Waiting for an operator" in page.text
    assert '<option value="api:tv">' not in page.text
    shown = re.findall(r"Rejected: no (\d+)", page.text)
    assert shown == [str(n) for n in range(59, 9, -1)]  # the 50 newest, newest first


@pytest.mark.parametrize(
    ("path", "action", "fields"),
    [
        ("/portal/apps/new", "create", {"name": "X", "type": "Public"}),
        ("/portal/apps/{app}", "update", {"name": "Other"}),
        ("/portal/apps/{app}", "rotate", {"confirmed": "yes"}),
        ("/portal/apps/{app}", "delete", {"confirmed": "yes"}),
        ("/portal/apps/{app}", "request_api", {"scope": "api:tv"}),
    ],
)
def test_every_app_form_needs_the_pages_csrf_token(
    developer: StaffBrowser, path: str, action: str, fields: dict[str, Any]
) -> None:
    developer.h.add_api_products("api:tv")
    company_id = create_company(developer)
    client_id, _ = create_app(developer, company_id)
    before = len(developer.h.audit_events())
    url = path.format(app=client_id)
    for token in (None, "wrong"):
        data = {"action": action, "company_id": company_id, **fields,
                **({"csrf_token": token} if token else {})}  # fmt: skip
        refused = developer.h.http.post(url, data=data)
        assert refused.status_code == 403
        assert "The form could not be checked" in refused.text
    assert len(developer.h.audit_events()) == before
