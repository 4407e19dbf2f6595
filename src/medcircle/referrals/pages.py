"""Pages of referrals: forms, detail with history, worklists, directory."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
