"""Saved prompts: named system prompts kept as plain text files in ``DATA_DIR/prompts/``.

One file per prompt (``NAME.txt``, mode 0600, in a 0700 directory), each written atomically
through ``_private_files``: saving one prompt never touches another, so two saves at once
cannot lose either, and a crash mid-save leaves the old text. Files are read without following
symbolic links and with a size limit, so a planted link or a huge file is refused, not read.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..errors import InvalidInputError
from ..messages import is_storable

__all__ = [
    "MAX_PROMPT_CHARS",
    "PromptNotFoundError",
    "SavedPrompt",
    "delete_prompt",
    "load_prompt",
    "prompt_names",
    "prompts_dir",
    "read_prompts",
    "save_prompt",
    "validate_prompt_name",
]

MAX_PROMPT_CHARS = 100_000  # a system prompt longer than this is a mistake, not a prompt
_SUFFIX = ".txt"
# A letter or digit first: never ".", "..", a hidden file or something that reads as an option.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class PromptNotFoundError(InvalidInputError):
    """No saved prompt has this name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no saved prompt named {name!r} (agentcli prompts list shows them)")
        self.name = name


@dataclass(frozen=True, slots=True)
class SavedPrompt:
    name: str
    text: str
    saved_at: datetime


def prompts_dir(data_dir: Path) -> Path:
    return data_dir / "prompts"


def validate_prompt_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InvalidInputError(
            f"bad prompt name {name[:80]!r}: use 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def _validate_text(text: str) -> str:
    if not text.strip():
        raise InvalidInputError("the prompt is empty")
    if len(text) > MAX_PROMPT_CHARS:
        raise InvalidInputError(f"the prompt is over the limit of {MAX_PROMPT_CHARS:,} characters")
    if not is_storable(text):
        raise InvalidInputError("the prompt holds a NUL character or a lone surrogate")
    return text


def save_prompt(data_dir: Path, name: str, text: str) -> bool:
    """Save (or replace) the prompt ``name``; True if it replaced one."""
    from .._private_files import make_private_dir, write_private_file

    validate_prompt_name(name)
    _validate_text(text)
    directory = prompts_dir(data_dir)
    make_private_dir(data_dir)  # a first save may create it: 0700 too, not the umask's 0755
    make_private_dir(directory)
    replaced = (directory / (name + _SUFFIX)).exists()
    write_private_file(directory, name + _SUFFIX, text.encode(), replace=True)
    return replaced


def load_prompt(data_dir: Path, name: str) -> SavedPrompt:
    """The prompt ``name``; ``PromptNotFoundError`` if there is none."""
    path = prompts_dir(data_dir) / (validate_prompt_name(name) + _SUFFIX)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        raise PromptNotFoundError(name) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InvalidInputError(f"saved prompt {name!r} is a symbolic link; refused") from None
        raise
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInputError(f"saved prompt {name!r} is not a regular file")
        # Bytes, not characters: UTF-8 takes at most 4 bytes a character.
        data = file.read(4 * MAX_PROMPT_CHARS + 1)
    try:
        text = _validate_text(data.decode())
    except (UnicodeDecodeError, InvalidInputError) as exc:
        raise InvalidInputError(f"saved prompt {name!r} cannot be used: {exc}") from None
    return SavedPrompt(name, text, datetime.fromtimestamp(info.st_mtime, UTC))


def prompt_names(data_dir: Path) -> list[str]:
    """The names of the saved prompts, sorted; none if the directory cannot be read."""
    try:
        entries = os.listdir(prompts_dir(data_dir))
    except OSError:
        return []
    names = (entry[: -len(_SUFFIX)] for entry in entries if entry.endswith(_SUFFIX))
    return sorted(name for name in names if _NAME.fullmatch(name))


def read_prompts(data_dir: Path) -> list[SavedPrompt]:
    """Every saved prompt that can be read (a broken file is left out, not fatal)."""
    found = []
    for name in prompt_names(data_dir):
        with contextlib.suppress(InvalidInputError, OSError):
            found.append(load_prompt(data_dir, name))
    return found


def delete_prompt(data_dir: Path, name: str) -> None:
    path = prompts_dir(data_dir) / (validate_prompt_name(name) + _SUFFIX)
    try:
        path.unlink()
    except FileNotFoundError:
        raise PromptNotFoundError(name) from None
