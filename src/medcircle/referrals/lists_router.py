"""Worklists, directory with current waits, ICD-10 look-up, attachments (API)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["referrals"])
