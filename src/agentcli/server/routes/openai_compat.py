"""The OpenAI APIs for any agent (to be completed)."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(tags=["openai"])
