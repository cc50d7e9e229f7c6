"""Sessions: the turn, the cached windows, and the guards that keep one turn per session."""

from ..usage import CleanupReport
from .manager import SessionManager
from .window_cache import SessionSnapshot

__all__ = ["CleanupReport", "SessionManager", "SessionSnapshot"]
