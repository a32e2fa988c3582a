"""The operator console (/admin): only operators get in (a developer gets a plain 403 page);
clients, API products, signing keys and the audit trail, in English and Norwegian; every form
needs the page's CSRF token, and a destructive action asks first."""

from __future__ import annotations

import re

import pytest

from tests.harness import Harness
from tests.ui.staff_browser import (
    DEVELOPER,
    OPERATOR,
    StaffBrowser,
    add_people,
    check_page_structure,
    lock_in_store,
    user_named,
)


@pytest.fixture
def operator(harness: Harness) -> StaffBrowser:
    add_people(harness, OPERATOR)
    browser = StaffBrowser(harness)
    page = browser.login(OPERATOR, "/admin")
    assert page.status_code == 200
    return browser


def test_the_console_logs_in_through_its_built_in_client_and_comes_back(
    harness: Harness,
) -> None:
    add_people(harness, OPERATOR)
    first = harness.http.get("/admin/keys")
    assert first.status_code == 303
    assert first.headers["location"].startswith("/login?interaction=")
    page = StaffBrowser(harness).login(OPERATOR, "/admin/keys")
    assert str(page.url).endswith("/admin/keys")
    assert "<h1>Signing keys</h1>" in page.text


def test_a_developer_gets_a_plain_403_page_not_a_login_loop(harness: Harness) -> None:
    add_people(harness, DEVELOPER)
    browser = StaffBrowser(harness)
    page = browser.login(DEVELOPER, "/admin")
    assert page.status_code == 403
    assert "<h1>You are not an operator</h1>" in page.text
    assert 'href="/portal"' in page.text
    norwegian = harness.http.get("/admin/clients?locale=nb")
    assert norwegian.status_code == 403
    assert "<h1>Du er ikke operatør</h1>" in norwegian.text
    refused = harness.http.post("/admin/keys", data={"csrf_token": browser.csrf(),
                                                     "action": "rotate"})  # fmt: skip
    assert refused.status_code == 403
    assert harness.audit_events("key.rotated") == []


def test_a_locked_operator_is_sent_away(operator: StaffBrowser) -> None:
    lock_in_store(operator.h, OPERATOR)
    page = operator.get("/admin")
    assert page.status_code == 403
    assert "Your account is locked" in page.text


def test_the_dashboard_in_both_languages(operator: StaffBrowser) -> None:
    english = operator.get("/admin")
    assert "<h1>Operator console</h1>" in english.text
    assert "Subscription requests waiting for you" in english.text
    assert "client_id=idplus-console" in english.text  # how to get an admin API token
    norwegian = operator.get("/admin?locale=nb")
    assert '<html lang="no">' in norwegian.text
    assert "<h1>Operatørkonsoll</h1>" in norwegian.text
    assert "Abonnementsforespørsler som venter på deg" in norwegian.text
    assert norwegian.text.count("<h1>") == 1


def test_clients_are_searched_and_paged_with_plain_links(operator: StaffBrowser) -> None:
    for n in range(52):
        operator.h.add_client(f"shop-{n:02}", name=f"Shop {n}")
    first = operator.get("/admin/clients?q=shop")
    assert first.status_code == 200
    assert first.text.count('href="/admin/clients/shop-') == 50
    assert "idplus-account" not in first.text
    (next_url,) = re.findall(r'<a href="(/admin/clients\?[^"]+)"', first.text)
    second = operator.get(next_url.replace("&amp;", "&"))
    assert re.findall(r'href="/admin/clients/([^"]+)"', second.text) == ["shop-50", "shop-51"]
    assert "Next page" not in second.text
    one = operator.get("/admin/clients?q=SHOP-07")
    assert re.findall(r'href="/admin/clients/([^"]+)"', one.text) == ["shop-07"]
    bad = operator.get("/admin/clients?cursor=%25%25")
    assert bad.status_code == 400


def test_htmx_asks_for_the_table_alone(operator: StaffBrowser) -> None:
    operator.h.add_client("shop", name="Shop")
    partial = operator.get("/admin/clients?q=shop", **{"HX-Request": "true"})
    assert partial.status_code == 200
    assert partial.text.lstrip().startswith('<div id="clients"')
    assert "<html" not in partial.text
    assert partial.headers["vary"] == "HX-Request"
    # A history restore (back after a reload) wants the whole page.
    restore_headers = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
    restore = operator.get("/admin/clients?q=shop", **restore_headers)
    assert "<html" in restore.text
    whole = operator.get("/admin/clients?q=shop")
    assert 'hx-get="/admin/clients"' in whole.text
    assert 'hx-target="#clients"' in whole.text


def test_removing_a_client_asks_first_and_records_the_operator(operator: StaffBrowser) -> None:
    h = operator.h
    h.add_client("shop", name="Shop")
    page = operator.get("/admin/clients/shop")
    assert "<h1>Client shop</h1>" in page.text
    asked = operator.post("/admin/clients/shop", "remove")
    assert asked.status_code == 200
    assert "Remove the client Shop?" in asked.text
    assert operator.get("/admin/clients/shop").status_code == 200  # nothing removed yet
    done = operator.confirm(asked)
    assert done.status_code == 303
    assert done.headers["location"] == "/admin/clients?notice=client_removed"
    assert operator.get("/admin/clients/shop").status_code == 404
    (event,) = h.audit_events("client.removed")
    assert event.detail["actor"] == f"user:{user_named(h, OPERATOR).id}"


def test_a_built_in_client_has_no_remove_button(operator: StaffBrowser) -> None:
    page = operator.get("/admin/clients/idplus-console")
    assert 'value="remove"' not in page.text
    refused = operator.post("/admin/clients/idplus-console", "remove", confirmed="yes")
    assert refused.status_code == 400
    assert "built in" in refused.text


def test_an_unknown_client_is_a_404_page(operator: StaffBrowser) -> None:
    page = operator.get("/admin/clients/no-such-client")
    assert page.status_code == 404
    assert "There is nothing here" in page.text


def test_api_products_are_added_and_a_duplicate_is_refused(operator: StaffBrowser) -> None:
    operator.get("/admin/api-products")
    added = operator.post("/admin/api-products", "add", scope="api:tv", name="TV")
    assert added.status_code == 303
    page = operator.get(added.headers["location"])
    assert "The API product is added." in page.text
    assert "<code>api:tv</code>" in page.text
    again = operator.post("/admin/api-products", "add", scope="api:tv", name="TV")
    assert again.status_code == 400
    assert "already exists" in again.text
    bad = operator.post("/admin/api-products", "add", scope="tv", name="TV")
    assert bad.status_code == 400


def test_rotating_keys_asks_first(operator: StaffBrowser) -> None:
    h = operator.h
    before = operator.get("/admin/keys").text.count("<tr><td><code>")
    asked = operator.post("/admin/keys", "rotate", alg="ES256")
    assert "Rotate the ES256 signing key?" in asked.text
    assert h.audit_events("key.rotated") == []
    done = operator.confirm(asked)
    assert done.status_code == 303
    page = operator.get(done.headers["location"])
    assert "New signing keys are published" in page.text
    assert page.text.count("<tr><td><code>") == before + 1
    (event,) = h.audit_events("key.rotated")
    assert event.detail["alg"] == "ES256"
    assert operator.post("/admin/keys", "rotate", alg="HS256").status_code == 400


def test_the_audit_trail_is_filtered(operator: StaffBrowser) -> None:
    operator.h.add_client("shop", name="Shop")
    page = operator.get("/admin/audit?event=client.added&actor=shop&since=24h")
    assert page.status_code == 200
    rows = re.findall(r"<td>(client\.[a-z_]+)</td><td>([^<]*)</td>", page.text)
    assert rows == [("client.added", "shop")]
    assert 'value="client.added"' in page.text  # the filters stay in the form
    wrong_since = operator.get("/admin/audit?since=yesterday")
    assert wrong_since.status_code == 400
    assert "neither an ISO-8601 time" in wrong_since.text
    assert operator.get("/admin/audit?event=%3Cscript%3E").status_code == 400
    assert operator.get("/admin/audit?cursor=MDA").status_code == 400  # "00"


def test_the_audit_trail_pages_back_in_time(operator: StaffBrowser) -> None:
    for n in range(55):
        operator.h.add_client(f"c{n:02}")
    first = operator.get("/admin/audit?event=client.added")
    (next_url,) = re.findall(r'<a href="(/admin/audit\?[^"]+)"', first.text)
    second = operator.get(next_url.replace("&amp;", "&"))
    first_rows = re.findall(r"<td>client\.added</td><td>([^<]*)</td>", first.text)
    second_rows = re.findall(r"<td>client\.added</td><td>([^<]*)</td>", second.text)
    assert len(first_rows) == 50
    assert not set(first_rows) & set(second_rows)
    assert {f"c{n:02}" for n in range(55)} <= set(first_rows) | set(second_rows)


@pytest.mark.parametrize(
    ("path", "action"),
    [
        ("/admin/clients/shop", "remove"),
        ("/admin/api-products", "add"),
        ("/admin/api-products", "approve"),
        ("/admin/keys", "rotate"),
        ("/admin/sessions", "end_session"),
        ("/admin/users/someone", "lock"),
    ],
)
@pytest.mark.parametrize("token", [None, "wrong"])
def test_every_console_form_needs_the_pages_csrf_token(
    operator: StaffBrowser, path: str, action: str, token: str | None
) -> None:
    operator.h.add_client("shop")
    before = len(operator.h.audit_events())
    data = {"action": action, "confirmed": "yes", "scope": "api:x", "alg": "ES256"}
    if token is not None:
        data["csrf_token"] = token
    refused = operator.h.http.post(path, data=data)
    assert refused.status_code == 403
    assert "The form could not be checked" in refused.text
    assert len(operator.h.audit_events()) == before


def test_a_nul_in_a_form_is_a_400_not_a_500(operator: StaffBrowser) -> None:
    operator.get("/admin/api-products")
    answer = operator.post("/admin/api-products", "add", scope="api:a\x00b")
    assert answer.status_code == 400
    assert operator.get("/admin/clients?q=a%00b").status_code == 400


def test_every_console_page_has_one_h1_and_labelled_controls(operator: StaffBrowser) -> None:
    operator.h.add_client("shop")
    me = user_named(operator.h, OPERATOR)
    for path in ("/admin", "/admin/clients", "/admin/clients/shop", "/admin/api-products",
                 "/admin/keys", "/admin/audit", "/admin/users", f"/admin/users/{me.id}",
                 "/admin/sessions", "/admin/callback"):  # fmt: skip
        page = operator.get(path)
        assert page.status_code == 200, path
        check_page_structure(page.text)
    operator.get("/admin/keys")
    asked = operator.post("/admin/keys", "rotate", alg="")
    check_page_structure(asked.text)
