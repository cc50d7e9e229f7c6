"""Operations: health, readiness, metrics (to be completed)."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(tags=["operations"])
