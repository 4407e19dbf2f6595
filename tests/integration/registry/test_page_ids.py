"""Every id on an institution's page is unique, so each label names its own field."""

from __future__ import annotations

import re
from collections import Counter

from fastapi.testclient import TestClient

from tests.factories import World, login


def test_institution_page_ids_are_unique(client: TestClient, world: World) -> None:
    login(client, "platformadmin")
    html = client.get(f"/institutions/{world.baoding.id}").text
    assert 'data-testid="department-form"' in html and 'data-testid="rename-form"' in html
    ids = Counter(re.findall(r'\sid="([^"]+)"', html))
    assert [i for i, n in ids.items() if n > 1] == []
    for target in re.findall(r'\sfor="([^"]+)"', html):
        assert ids[target] == 1, target
