"""Citizens: the demo identity provider, companions, the personal code."""

import re
from datetime import timedelta

from starlette.testclient import TestClient

from placecode.clock import clock
from tests.accounts.test_pages import csrf_of
from tests.conftest import sign_in_citizen
from tests.qr import read_qr_codes


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_citizen_signs_in_with_a_one_time_code(client: TestClient) -> None:
    token = sign_in_citizen(client)
    me = client.get("/api/v1/citizens/me", headers=bearer(token)).json()
    assert me["name_masked"] == "王*英"
    assert me["doc_masked"] == "1101**********002X"
    assert me["channel"] == "web"
    assert "王秀英" not in token and "11010519491231002X" not in token  # pseudonym only


def test_bad_details_are_refused_field_by_field(client: TestClient) -> None:
    response = client.post(
        "/api/v1/citizens/sign-in",
        json={
            "doc_type": "id_card",
            "doc_number": "11010519491231002Y",
            "name": "王秀英",
            "phone": "13812345678",
        },
    )
    assert response.status_code == 422
    body = client.post(
        "/api/v1/citizens/sign-in",
        json={
            "doc_type": "id_card",
            "doc_number": "110105194912310021",
            "name": "王秀英",
            "phone": "123",
        },
    ).json()
    assert body["error"] == "id_check"


def test_a_wrong_code_counts_and_five_end_the_sign_in(client: TestClient) -> None:
    started = client.post(
        "/api/v1/citizens/sign-in",
        json={
            "doc_type": "passport",
            "doc_number": "E98765432",
            "name": "Maria Rossi",
            "phone": "+393123456789",
        },
    ).json()
    path = f"/api/v1/citizens/sign-in/{started['sign_in_id']}"
    wrong = "000000" if started["demo_code"] != "000000" else "111111"
    for _ in range(5):
        assert client.post(path, json={"code": wrong}).json()["error"] == "sign_in_code"
    assert (
        client.post(path, json={"code": started["demo_code"]}).json()["error"] == "sign_in_attempts"
    )


def test_an_expired_sign_in_is_refused(client: TestClient) -> None:
    started = client.post(
        "/api/v1/citizens/sign-in",
        json={
            "doc_type": "passport",
            "doc_number": "E98765432",
            "name": "Maria Rossi",
            "phone": "+393123456789",
        },
    ).json()
    clock.freeze(clock.now() + timedelta(minutes=11))
    late = client.post(
        f"/api/v1/citizens/sign-in/{started['sign_in_id']}", json={"code": started["demo_code"]}
    )
    assert late.json()["error"] == "sign_in_expired"


def test_companions_are_registered_and_travel_in_the_token(client: TestClient) -> None:
    token = sign_in_citizen(client)
    added = client.post(
        "/api/v1/citizens/me/companions",
        json={
            "doc_type": "id_card",
            "doc_number": "310107193005050026"[:17] + "X",
            "name": "王老太",
            "relationship": "parent",
        },
        headers=bearer(token),
    )
    assert added.status_code == 422  # that made-up number fails its check digit
    from placecode.people.documents import id_check_digit

    mother = "31010719300505002" + id_check_digit("31010719300505002")
    added = client.post(
        "/api/v1/citizens/me/companions",
        json={
            "doc_type": "id_card",
            "doc_number": mother,
            "name": "王老太",
            "relationship": "parent",
        },
        headers=bearer(token),
    )
    assert added.status_code == 201, added.text
    token = added.json()["token"]
    (companion,) = added.json()["person"]["companions"]
    assert (companion["name_masked"], companion["with_me"]) == ("王*太", True)
    again = client.post(
        "/api/v1/citizens/me/companions",
        json={
            "doc_type": "id_card",
            "doc_number": mother,
            "name": "王老太",
            "relationship": "parent",
        },
        headers=bearer(token),
    )
    assert again.status_code == 409
    home = client.patch(
        f"/api/v1/citizens/me/companions/{companion['person_key']}",
        json={"with_me": False},
        headers=bearer(token),
    )
    assert home.json()["person"]["companions"][0]["with_me"] is False
    removed = client.delete(
        f"/api/v1/citizens/me/companions/{companion['person_key']}", headers=bearer(token)
    )
    assert removed.json()["person"]["companions"] == []


def test_the_personal_code_is_a_short_lived_qr(client: TestClient, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import segno

    token = sign_in_citizen(client)
    code = client.get("/api/v1/citizens/me/personal-code", headers=bearer(token)).json()
    assert code["svg"].startswith("<svg")
    lifetime = (
        clock.now().fromisoformat(code["expires_at"].replace("Z", "+00:00")) - clock.now()
    ).total_seconds()
    assert 30 < lifetime <= 90
    png = tmp_path / "code.png"
    segno.make(code["token"], error="m").save(png, scale=4)
    assert read_qr_codes(png) == [code["token"]]


def test_without_a_token_there_is_no_citizen(client: TestClient) -> None:
    response = client.get("/api/v1/citizens/me")
    assert response.status_code == 401
    assert response.json()["error"] == "citizen_not_signed_in"
    forged = client.get("/api/v1/citizens/me", headers=bearer("eyJhbGciOiJub25lIn0.e30."))
    assert forged.status_code == 401


def test_a_citizen_who_opens_the_sign_in_page_lands_on_their_own_page(
    client: TestClient,
) -> None:
    """Not on the staff sign-in: /me/login without a `next` leads back to /me."""
    form = client.get("/me/login")
    assert 'name="next" value="/me"' in form.text
    started = client.post(
        "/me/login",
        data={
            "csrf_token": csrf_of(form.text),
            "doc_type": "id_card",
            "doc_number": "11010519491231002X",
            "name": "王秀英",
            "phone": "13812345678",
        },
        follow_redirects=True,
    )
    code = re.search(r'class="code">(\d{6})<', started.text)
    action = re.search(r'action="(/me/login/sig_[0-9a-f]+)"', started.text)
    assert code and action, started.text
    done = client.post(
        action.group(1),
        data={"csrf_token": csrf_of(started.text), "code": code.group(1)},
        follow_redirects=False,
    )
    assert (done.status_code, done.headers["location"]) == (303, "/me")
