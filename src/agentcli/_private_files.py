"""Private files: directories only their owner may enter, files only their owner may read,
written so that a crash, a full disk or a planted symbolic link can never cost an old file.

``write_private_file`` writes a new file under a temporary name in the target directory
(created with ``O_EXCL | O_NOFOLLOW``, mode 0600 whatever the umask), fsyncs it, then moves it
to its name: with ``os.link`` when an existing file must not be replaced (which fails if one
appeared meanwhile), with ``os.replace`` when it may be. Every step is relative to one open
descriptor of the directory, so swapping a path component for a link after the directory was
opened cannot redirect the write, and a rename never writes through a link: a link planted at
the name after the check is itself replaced, its target left alone.

``loose_modes`` and ``tighten`` find and fix group or other permissions on existing paths;
``loose_modes_within`` finds them on a directory and its files without following any link.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "PRIVATE_DIR",
    "PRIVATE_FILE",
    "LooseMode",
    "TargetExistsError",
    "TargetIsLinkError",
    "TargetNotRegularError",
    "loose_modes",
    "loose_modes_within",
    "make_private_dir",
    "tighten",
    "write_private_file",
]

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
_OTHERS = 0o077  # group and other permission bits
# Opens what is at a name, never through a link there, and never waits (a FIFO).
_NO_FOLLOW = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
# Where a hard link cannot be made: the name is then checked, then replaced (a small race).
_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.EXDEV}


class TargetExistsError(FileExistsError):
    """The file exists and the caller did not ask to replace it."""


class TargetIsLinkError(OSError):
    """A symbolic link sits at the name: never followed, never replaced."""


class TargetNotRegularError(OSError):
    """A directory, FIFO, socket or device sits at the name."""


def make_private_dir(path: Path) -> bool:
    """Create ``path`` (and missing parents) as a directory only its owner may enter, mode
    0700 whatever the umask. An existing directory keeps its mode. True if it was created."""
    try:
        path.mkdir(mode=PRIVATE_DIR, parents=True)
    except FileExistsError:
        if not path.is_dir():
            raise
        return False
    os.chmod(path, PRIVATE_DIR)  # mkdir's mode is filtered through the umask
    return True


def write_private_file(directory: Path, name: str, data: bytes, *, replace: bool) -> None:
    """Write ``data`` to ``directory/name``, mode 0600: all of it, or nothing changes.

    Raises ``TargetExistsError`` if the name exists and ``replace`` is false,
    ``TargetIsLinkError`` if it is a symbolic link (even with ``replace``),
    ``TargetNotRegularError`` if it is not a regular file, or the ``OSError`` of a failed write
    (a full disk...), after removing the temporary file.
    """
    if name in ("", ".", "..") or os.sep in name or (os.altsep and os.altsep in name):
        raise ValueError(f"not a file name: {name!r}")
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _check_target(dir_fd, name, replace=replace)
        temp = _write_temp(dir_fd, name, data)
        try:
            _publish(dir_fd, temp, name, replace=replace)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp, dir_fd=dir_fd)
        os.fsync(dir_fd)  # the new name itself survives a crash
    finally:
        os.close(dir_fd)


def _check_target(dir_fd: int, name: str, *, replace: bool) -> None:
    try:
        mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISLNK(mode):
        raise TargetIsLinkError(errno.ELOOP, "it is a symbolic link", name)
    if not stat.S_ISREG(mode):
        raise TargetNotRegularError(errno.EEXIST, "it is not a regular file", name)
    if not replace:
        raise TargetExistsError(errno.EEXIST, "it exists", name)


def _write_temp(dir_fd: int, name: str, data: bytes) -> str:
    """A new hidden file next to ``name`` holding ``data``, flushed to the disk."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    while True:
        temp = f".{name[:200]}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(temp, flags, PRIVATE_FILE, dir_fd=dir_fd)
            break
        except FileExistsError:
            continue  # a name taken by chance (or planted): draw another
    try:
        os.fchmod(fd, PRIVATE_FILE)  # exactly 0600, whatever the umask
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=dir_fd)
        raise
    os.close(fd)
    return temp


def _publish(dir_fd: int, temp: str, name: str, *, replace: bool) -> None:
    if replace:
        _check_target(dir_fd, name, replace=True)
        os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        return
    try:
        # Unlike a rename, a link fails if the name was taken since the check.
        os.link(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except FileExistsError:
        _check_target(dir_fd, name, replace=False)  # says what is there now
        raise TargetExistsError(errno.EEXIST, "it exists", name) from None
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        _check_target(dir_fd, name, replace=False)
        os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)


@dataclass(frozen=True, slots=True)
class LooseMode:
    """A path that others may read, write or enter: its mode now and the mode it should have."""

    path: Path
    mode: int
    wanted: int
    follow: bool = True  # False: found without following a link at ``path``, and fixed so

    def describe(self) -> str:
        return f"{self.path} ({self.mode:04o}, want {self.wanted:04o})"


def loose_modes(paths: list[Path]) -> list[LooseMode]:
    """The paths among ``paths`` that exist and give group or other users any permission.
    A directory should be 0700 and a file 0600: the owner's own bits are kept."""
    found = []
    for path in paths:
        try:
            mode = path.stat().st_mode
        except OSError:
            continue  # absent (or unreadable: nothing to report about its mode)
        found += _loose(path, mode, follow=True)
    return found


def loose_modes_within(directory: Path) -> list[LooseMode]:
    """``directory`` and the regular files directly in it, where they give group or other
    users any permission, found without following symbolic links: a link at the directory's
    name or inside it is never reported, read through or changed. Nothing if the directory is
    absent, a link, or cannot be read."""
    try:
        dir_fd = os.open(directory, _NO_FOLLOW | os.O_DIRECTORY)
    except OSError:
        return []
    try:
        found = _loose(directory, os.fstat(dir_fd).st_mode, follow=False)
        for name in sorted(os.listdir(dir_fd)):
            try:
                mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
            except OSError:
                continue  # gone since it was listed
            if stat.S_ISREG(mode):
                found += _loose(directory / name, mode, follow=False)
    finally:
        os.close(dir_fd)
    return found


def _loose(path: Path, mode: int, *, follow: bool) -> list[LooseMode]:
    """``path`` as a ``LooseMode`` if ``mode`` gives group or other users any permission."""
    bits = stat.S_IMODE(mode)
    if not bits & _OTHERS:
        return []
    return [LooseMode(path, bits, bits & ~_OTHERS & 0o7777, follow)]


def tighten(loose: LooseMode) -> None:
    """Take group and other permissions away from ``loose.path``; one found without following
    links is changed through a descriptor opened without following one (``ELOOP`` if a link
    has taken its name since), and only if it is still a file or a directory."""
    if loose.follow:
        os.chmod(loose.path, loose.wanted)
        return
    fd = os.open(loose.path, _NO_FOLLOW)
    try:
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise TargetNotRegularError(errno.EEXIST, "it is not a file or a directory", loose.path)
        os.fchmod(fd, loose.wanted)
    finally:
        os.close(fd)
