"""Pages of accounts are checked in English unless a test chooses Chinese (the deployment's
default language is Simplified Chinese, which anonymous visitors would otherwise get)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


@pytest.fixture(autouse=True)
def english_browser(client: TestClient) -> None:
    client.headers["Accept-Language"] = "en"
