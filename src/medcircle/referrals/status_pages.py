"""The family's status page, reached by a random expiring link (no login)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
