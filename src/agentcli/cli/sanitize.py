"""Model output is text, never terminal control: the CLI's name for the one sanitiser.

The sanitiser lives in ``agentcli._safe_text`` because the library's Markdown and JSON exports
use it too; see that module for what is removed, shown and escaped.
"""

from __future__ import annotations

from .._safe_text import MAX_SEQUENCE, StreamSanitizer, escape_json, sanitize, sanitize_inline

__all__ = ["MAX_SEQUENCE", "StreamSanitizer", "escape_json", "sanitize", "sanitize_inline"]
