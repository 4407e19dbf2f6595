"""Searching agreements for "_" or "%" finds those characters, not every agreement."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from medcircle.auth.domain import Role
from tests import agreement_factories as af
from tests.factories import World


def _codes(client: TestClient, world: World, q: str) -> list[str]:
    r = client.get(
        "/api/v1/agreements",
        params={"q": q, "status": "all"},
        headers=world.auth(Role.COMMISSION_ANALYST),
    )
    assert r.status_code == 200, r.text
    return sorted(a["code"] for a in r.json()["items"])


def test_agreement_search_treats_underscore_and_percent_literally(
    client: TestClient, world: World, session: Session
) -> None:
    plain = af.agreement(session, world.beijing, world.baoding, title_en="Support 100 beds")
    percent = af.agreement(session, world.beijing, world.baoding2, title_en="Cut waits by 30%")
    underscore = af.agreement(session, world.beijing2, world.baoding, title_en="Ward_B upgrade")
    session.commit()
    assert _codes(client, world, "%") == [percent.code]
    assert _codes(client, world, "d_b") == [underscore.code]
    assert plain.code in _codes(client, world, "100")
