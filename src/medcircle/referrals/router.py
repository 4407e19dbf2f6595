"""Referrals: drafting, submitting and every transition (API)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["referrals"])
