"""Copying text to the clipboard with OSC 52, the escape sequence terminals (and ssh, and
tmux) carry to the clipboard of the machine the user sits at: no xclip, no pbcopy.

We write the sequence ourselves and only to a terminal; the text inside travels as base64, so
nothing in it can end the sequence early. Inside tmux the sequence is wrapped in tmux's
passthrough (``ESC Ptmux; ... ESC \\``, each ESC doubled) so it reaches the outer terminal.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import BinaryIO

__all__ = ["osc52", "write_clipboard", "write_copy_file"]

ESC = b"\x1b"
BEL = b"\x07"


def osc52(text: str, *, tmux: bool = False) -> bytes:
    """The bytes that set the clipboard (selection ``c``) to ``text``."""
    payload = base64.b64encode(text.encode("utf-8", "replace"))
    sequence = ESC + b"]52;c;" + payload + BEL
    if tmux:
        return ESC + b"Ptmux;" + sequence.replace(ESC, ESC + ESC) + ESC + b"\\"
    return sequence


def write_clipboard(text: str, terminal: BinaryIO, environ: dict[str, str] | None = None) -> None:
    """Write ``text`` to the clipboard through ``terminal`` (wrapped for tmux if TMUX is set)."""
    env = os.environ if environ is None else environ
    terminal.write(osc52(text, tmux=bool(env.get("TMUX"))))
    terminal.flush()


def write_copy_file(text: str, path: Path, *, replace: bool) -> None:
    """Write ``text`` to ``path``, mode 0600, never through a symbolic link; an existing file
    only with ``replace``. Raises ``OSError`` (``TargetExistsError``...) when it cannot."""
    from .._private_files import make_private_dir, write_private_file

    make_private_dir(path.parent)
    write_private_file(path.parent, path.name, text.encode("utf-8", "replace"), replace=replace)
