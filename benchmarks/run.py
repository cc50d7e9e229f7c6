"""Run the benchmarks: ``python benchmarks/run.py [NAME ...] [--json] [--quick]``, NAME among
core, startup, providers, server, stores and cleanup.

With no name, all six run (about 6-8 minutes on the 2-core reference machine). Tables go to
stdout; progress goes to stderr. Exits 0 whatever the numbers are: these are measurements, not
tests.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any

NAMES = ("core", "startup", "providers", "server", "stores", "cleanup")


def _bootstrap() -> None:
    """Make ``benchmarks`` importable as a package when run as ``python benchmarks/run.py``."""
    here = Path(__file__).resolve().parent
    if sys.path and Path(sys.path[0] or ".").resolve() == here:
        # Running as a script put benchmarks/ itself first on the path; its module names
        # (core, providers, ...) must not shadow anything else's.
        sys.path.pop(0)
    root = str(here.parent)
    if root not in sys.path:
        sys.path.insert(0, root)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/run.py",
        description="agentcli benchmarks: per-turn overhead and memory (core), process start-up "
        "(startup), provider agent overhead over a loopback server (providers), the web "
        "service against a bare FastAPI app (server), the session stores against their raw "
        "drivers, and replicas sharing one Redis (stores), and context cleanup: planning a trim, "
        "its cost in a turn, summarising's requests (cleanup).",
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="core, startup, providers, server, stores or cleanup (default: all six)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document instead")
    parser.add_argument(
        "--quick", action="store_true", help="fewer repetitions: a smoke run, not a measurement"
    )
    parser.add_argument(
        "--setup",
        action="store_true",
        help="first make (or update) the peers' venv, benchmarks/.venv-bench, from "
        "requirements/bench.txt (hash-checked), then run",
    )
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in NAMES]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}: choose from {', '.join(NAMES)}")
    return args


def _print_header(common: Any, info: dict[str, Any]) -> None:
    load = info["load_average"]
    load_text = f", load average {load[0]:.2f}" if load else ""
    print(
        f"agentcli {info['agentcli']} on Python {info['python']} ({info['platform']}), "
        f"{info['cpus']} CPUs{load_text}"
    )
    print("peers: " + ", ".join(f"{k} {v or 'not installed'}" for k, v in info["peers"].items()))
    missing = common.missing_peers()
    if missing:
        print(
            f"peers not installed ({', '.join(missing)}): their rows say so. "
            f"To measure them too: {common.install_hint()}"
        )
    print()


def _setup(common: Any) -> bool:
    """Make the peers' venv; ``False`` (and the reason on stderr) if a step failed."""
    import subprocess

    for command in common.setup_commands():
        common.progress("setup: " + " ".join(command))
        if subprocess.run(command, check=False).returncode != 0:
            print(f"setup failed at: {' '.join(command)}", file=sys.stderr)
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    _bootstrap()
    args = _parse(argv)
    common: Any = importlib.import_module("benchmarks._common")
    names = list(dict.fromkeys(args.names)) or list(NAMES)

    if not common.has_module("agentcli"):
        print(
            f"agentcli is not importable from {sys.executable}; run the benchmarks with the "
            "project's venv: .venv/bin/python benchmarks/run.py",
            file=sys.stderr,
        )
        return 2

    if args.setup and not _setup(common):
        return 1

    info = common.machine()
    if not args.json:
        _print_header(common, info)

    sections = []
    started = time.perf_counter()
    for name in names:
        module: Any = importlib.import_module(f"benchmarks.{name}")
        common.progress(f"{name}: starting")
        section = module.run(quick=args.quick)
        common.progress(f"{name}: done in {section.seconds:.1f} s")
        sections.append(section)
        if not args.json:
            print(section.render())
            print()
    elapsed = time.perf_counter() - started

    after = common.load_average()
    if args.json:
        document = {
            "machine": info,
            "load_average_after": after,
            "seconds": round(elapsed, 1),
            "quick": args.quick,
            "sections": [s.as_json() for s in sections],
        }
        print(json.dumps(document, indent=2))
    else:
        load = f", load average {after[0]:.2f}" if after else ""
        print(f"total {elapsed:.0f} s{load} (numbers are noisy when the machine is busy)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
