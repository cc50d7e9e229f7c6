"""Runs the shared store conformance suite on every backend in ``conformance.BACKENDS``."""

from __future__ import annotations

from .conformance import StoreConformance


class TestStoreConformance(StoreConformance):
    """The whole suite, once per backend (the ``backend`` fixture is parametrised)."""
