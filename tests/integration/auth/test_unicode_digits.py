"""Numbers typed with digits Python cannot convert ("²" is a digit to str.isdigit, not to int)
are refused like any other bad number instead of failing the request."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import World, login


def test_user_list_ignores_superscript_institution(client: TestClient, world: World) -> None:
    login(client, "platformadmin")
    r = client.get("/users", params={"institution_id": "²"})
    assert r.status_code == 200
    assert "institutionadmin" in r.text


def test_user_create_refuses_superscript_institution(client: TestClient, world: World) -> None:
    csrf = login(client, "platformadmin")
    r = client.post(
        "/users/new",
        data={
            "csrf_token": csrf,
            "username": "new.person",
            "display_name": "New Person",
            "password": "a-long-enough-Passw0rd",
            "institution_id": "²",
            "roles": ["clinician"],
        },
    )
    assert r.status_code == 422
    assert 'id="institution_id-error"' in r.text


def test_token_days_in_superscript_is_a_field_error(client: TestClient, world: World) -> None:
    csrf = login(client, "expert")
    r = client.post(
        "/account/tokens", data={"csrf_token": csrf, "name": "laptop", "expires_in_days": "³"}
    )
    assert r.status_code == 422
    assert 'id="expires_in_days-error"' in r.text


def test_new_agreement_form_ignores_superscript_framework(client: TestClient, world: World) -> None:
    login(client, "commissionanalyst")
    r = client.get("/agreements/new", params={"framework_id": "²"})
    assert r.status_code == 200
