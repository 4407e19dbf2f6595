"""Pages of patients and consent."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
