"""Web sign-in: signed HttpOnly SameSite cookie, CSRF-protected forms, sign-out."""

import re

from starlette.testclient import TestClient

from tests.conftest import PASSWORD, Persona


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def sign_in(
    client: TestClient, username: str, password: str = PASSWORD, next_: str = "/"
) -> "object":
    token = csrf_of(client.get("/login").text)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": next_},
        follow_redirects=False,
    )


def test_an_anonymous_visit_is_sent_to_sign_in(client: TestClient) -> None:
    response = client.get("/", headers={"Accept": "text/html"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/"


def test_signing_in_shows_who_and_their_scope(client: TestClient, street_admin: Persona) -> None:
    response = sign_in(client, "chang")
    assert response.status_code == 303  # type: ignore[attr-defined]
    cookie = response.headers["set-cookie"]  # type: ignore[attr-defined]
    assert "placecode_session=" in cookie
    assert "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()
    assert "secure" in cookie.lower()  # the base URL is https
    dashboard = client.get("/")
    assert dashboard.status_code == 200
    assert "长风新村街道" in dashboard.text
    assert "街镇管理员" in dashboard.text
    english = client.get("/?lang=en")
    assert "Changfeng Xincun Subdistrict" in english.text
    assert "Street/town administrator" in english.text


def test_a_wrong_password_shows_the_form_again_with_the_reason(
    client: TestClient, street_admin: Persona
) -> None:
    response = sign_in(client, "chang", "not-the-password")
    assert response.status_code == 401  # type: ignore[attr-defined]
    assert "用户名或密码错误" in response.text  # type: ignore[attr-defined]
    assert (
        client.get("/", headers={"Accept": "text/html"}, follow_redirects=False).status_code == 303
    )


def test_next_only_leads_within_the_site(client: TestClient, street_admin: Persona) -> None:
    assert sign_in(client, "chang", next_="/account").headers["location"] == "/account"  # type: ignore[attr-defined]
    client.cookies.clear()
    assert sign_in(client, "chang", next_="//evil.example/").headers["location"] == "/"  # type: ignore[attr-defined]


def test_a_form_without_its_csrf_token_is_refused(
    client: TestClient, street_admin: Persona
) -> None:
    client.get("/login")
    forged = client.post(
        "/login",
        data={"username": "chang", "password": PASSWORD, "csrf_token": "forged"},
        headers={"Accept": "text/html"},
    )
    assert forged.status_code == 403
    assert "表单已过期" in forged.text
    sign_in(client, "chang")
    assert client.post("/logout", data={}, follow_redirects=False).status_code == 403


def test_the_api_refuses_a_cookie_without_the_csrf_header(
    client: TestClient, street_admin: Persona
) -> None:
    sign_in(client, "chang")
    assert client.get("/api/v1/me").json()["signed_in_via"] == "session"
    refused = client.post("/api/v1/me/tokens", json={"name": "x"})
    assert refused.status_code == 403
    assert refused.json()["error"] == "csrf"
    token = csrf_of(client.get("/account").text)
    allowed = client.post("/api/v1/me/tokens", json={"name": "x"}, headers={"X-CSRF-Token": token})
    assert allowed.status_code == 201


def test_signing_out_ends_the_session(client: TestClient, street_admin: Persona) -> None:
    sign_in(client, "chang")
    token = csrf_of(client.get("/").text)
    out = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.headers["location"] == "/login"
    assert client.get("/api/v1/me").status_code == 401


def test_a_disabled_account_loses_its_session(
    client: TestClient, street_admin: Persona, district_admin: Persona
) -> None:
    sign_in(client, "chang")
    client.post("/api/v1/users/chang/disable", headers=district_admin.auth)
    ended = client.get("/api/v1/me")
    assert ended.status_code == 401
    assert ended.json()["error"] == "session_ended"


def test_a_user_creates_and_revokes_a_token_on_the_account_page(
    client: TestClient, registrar: Persona
) -> None:
    sign_in(client, "reggie")
    token = csrf_of(client.get("/account").text)
    created = client.post(
        "/account/tokens", data={"csrf_token": token, "name": "laptop", "days": "30"}
    )
    assert created.status_code == 201
    secret = re.search(r"(pct_[A-Za-z0-9_-]+)", created.text)
    assert secret
    bearer = {"Authorization": f"Bearer {secret.group(1)}"}
    assert client.get("/api/v1/me", headers=bearer).status_code == 200
    token_id = re.search(r"/account/tokens/(tok_[0-9a-f]+)/revoke", created.text)
    assert token_id
    client.post(f"/account/tokens/{token_id.group(1)}/revoke", data={"csrf_token": token})
    assert client.get("/api/v1/me", headers=bearer).status_code == 401
    # The secret is never shown again.
    assert secret.group(1) not in client.get("/account").text


def test_the_admin_adds_a_user_on_the_users_page(
    client: TestClient, district_admin: Persona
) -> None:
    sign_in(client, "dora")
    token = csrf_of(client.get("/admin/users").text)
    form = {
        "csrf_token": token,
        "username": "wang",
        "display_name": "王主任",
        "role": "street_admin",
        "scope": "taopu",
        "password": "a-long-password-1",
    }
    created = client.post("/admin/users", data=form)
    assert created.status_code == 200
    assert "王主任" in created.text
    refused = client.post("/admin/users", data={**form, "username": "li", "scope": "atlantis"})
    assert refused.status_code == 404
    assert "没有代码为 &#39;atlantis&#39; 的街镇" in refused.text
    assert client.get("/api/v1/users/wang", headers=district_admin.auth).json()["scope"] == "taopu"


def test_the_audit_page_lists_sign_ins(client: TestClient, district_admin: Persona) -> None:
    sign_in(client, "dora")
    page = client.get("/admin/audit?action=sign_in")
    assert page.status_code == 200
    assert "dora" in page.text


def test_pages_outside_the_role_show_a_readable_refusal(
    client: TestClient, street_admin: Persona
) -> None:
    sign_in(client, "chang")
    page = client.get("/admin/users", headers={"Accept": "text/html"})
    assert page.status_code == 403
    assert "无权" in page.text
    assert "Traceback" not in page.text
