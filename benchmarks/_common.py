"""Shared pieces of the benchmarks: result tables, statistics, the machine and the peers."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import statistics
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_REQUIREMENTS = ROOT / "requirements" / "bench.txt"
# The peers live in their own venv: installed beside agentcli they would change it (logfire's
# pydantic plugin alone adds ~0.25 s to every agentcli start, and pytest gains two plugins).
BENCH_VENV = ROOT / "benchmarks" / ".venv-bench"

# Peer -> the distributions that provide it (the first one installed gives the version).
PEERS: dict[str, tuple[str, ...]] = {
    "pydantic-ai": ("pydantic-ai", "pydantic-ai-slim"),
    "openai-agents": ("openai-agents",),
    "langchain-core": ("langchain-core",),
    "llm": ("llm",),
    "clai": ("clai",),
}


@dataclass
class Table:
    """One printed table. ``rows`` are display strings; ``data`` the same rows as numbers."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data: list[dict[str, Any]] = field(default_factory=list)
    # One character per column: "l" left, "r" right.
    align: str = ""

    def add(self, cells: Sequence[str], **data: Any) -> None:
        self.rows.append([str(c) for c in cells])
        if data:
            self.data.append(data)

    def render(self) -> str:
        widths = [len(c) for c in self.columns]
        for row in self.rows:
            for i, cell in enumerate(row):
                widths[i] = max(widths[i], len(cell))
        align = self.align.ljust(len(self.columns), "r")

        def line(cells: Sequence[str]) -> str:
            parts = [
                cell.ljust(widths[i]) if align[i] == "l" else cell.rjust(widths[i])
                for i, cell in enumerate(cells)
            ]
            return "  ".join(parts).rstrip()

        out = [self.title, "=" * len(self.title), line(self.columns)]
        out.append("  ".join("-" * w for w in widths))
        out.extend(line(row) for row in self.rows)
        out.extend(f"  * {note}" for note in self.notes)
        return "\n".join(out)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Section:
    """What one benchmark (core, startup, providers) reports."""

    name: str
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def render(self) -> str:
        parts = [table.render() for table in self.tables]
        if self.notes:
            parts.append("\n".join(f"note: {n}" for n in self.notes))
        return "\n\n".join(parts)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "seconds": round(self.seconds, 2),
            "notes": self.notes,
            "tables": [t.as_json() for t in self.tables],
        }


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def fmt_us(value: float | None) -> str:
    """Microseconds, with precision that suits the size."""
    if value is None or value != value:  # None or NaN
        return "-"
    if value < 10:
        return f"{value:.2f}"
    if value < 100:
        return f"{value:.1f}"
    return f"{value:,.0f}"


def fmt_ms(value: float | None) -> str:
    if value is None or value != value:
        return "-"
    return f"{value:.3f}" if value < 1 else f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def fmt_ratio(value: float | None) -> str:
    if value is None or value != value:
        return "-"
    return f"{value:.2f}x"


def ok(passed: bool | None) -> str:
    return "-" if passed is None else "yes" if passed else "NO"


def version_of(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def bench_python() -> Path | None:
    """The peers' venv interpreter, if ``--setup`` made it."""
    python = BENCH_VENV / "bin" / "python"
    return python if _executable(python) else None


def find_command(name: str, *, peers: bool = False) -> str | None:
    """A console script beside this interpreter (the venv's), then in the peers' venv when
    ``peers``, then on ``PATH``."""
    places = [Path(sys.executable).parent]
    if peers:
        places.append(BENCH_VENV / "bin")
    for place in places:
        if _executable(place / name):
            return str(place / name)
    import shutil

    return shutil.which(name)


def _bench_site_packages() -> list[str]:
    return [str(p) for p in sorted(BENCH_VENV.glob("lib/python3*/site-packages"))]


def peer_versions() -> dict[str, str | None]:
    """Each peer's version, from this interpreter or else from the peers' venv."""
    here = {d.metadata["Name"].lower(): d.version for d in importlib.metadata.distributions()}
    there = {
        d.metadata["Name"].lower(): d.version
        for d in importlib.metadata.distributions(path=_bench_site_packages())
    }
    versions: dict[str, str | None] = {}
    for peer, distributions in PEERS.items():
        found = [here.get(d) or there.get(d) for d in distributions]
        versions[peer] = next((v for v in found if v), None)
    return versions


def missing_peers() -> list[str]:
    return [peer for peer, version in peer_versions().items() if version is None]


def _rel(path: Path) -> str:
    try:
        return os.path.relpath(path, Path.cwd())
    except ValueError:
        return str(path)


def setup_commands() -> list[list[str]]:
    """What ``--setup`` runs: a venv for the peers, from the hash-pinned requirements."""
    venv = _rel(BENCH_VENV)
    return [
        [sys.executable, "-m", "venv", venv],
        [
            f"{venv}/bin/pip",
            "install",
            "--quiet",
            "--require-hashes",
            "-r",
            _rel(BENCH_REQUIREMENTS),
        ],
    ]


def install_hint() -> str:
    steps = " && ".join(" ".join(c) for c in setup_commands())
    return f"python benchmarks/run.py --setup (it runs: {steps})"


def load_average() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except OSError:
        return None


def filesystem(path: str) -> str:
    """The file system type ``path`` is on (from /proc/mounts), e.g. ext4 or tmpfs."""
    best, kind = "", "unknown file system"
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                fields = line.split()
                if len(fields) < 3:
                    continue
                point = fields[1]
                inside = path == point or path.startswith(point.rstrip("/") + "/")
                if inside and len(point) > len(best):
                    best, kind = point, fields[2]
    except OSError:
        pass
    return kind


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(terse=True),
        "cpus": os.cpu_count(),
        "load_average": load_average(),
        "agentcli": version_of("agentcli"),
        "peers": peer_versions(),
    }


def progress(message: str) -> None:
    """Progress goes to stderr so ``--json`` output stays clean."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)
