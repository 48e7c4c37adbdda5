"""Run every benchmark, one fresh process each, and print their tables one after the other.

    .venv/bin/python -m benchmarks.all [--quick] [--only call_path,sync] [--out FILE]

This is how the "Latest tables" section of docs/performance.md is produced. A benchmark that fails
is reported with the tail of its error output, and the others still run; the exit status is 1 then.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCHMARKS = [
    "call_path",
    "sync",
    "build",
    "footprint",
    "fleet",
    "dev_loop",
    "reconnect_storm",
    "mcp_call_path",
    "replicas",
    "cli",
    "platform_footprint",
]


def parse_only(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in BENCHMARKS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"--only takes names among {', '.join(BENCHMARKS)}; got {text!r}")
    return names


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.all", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="pass --quick to every benchmark")
    parser.add_argument("--only", type=parse_only, default=list(BENCHMARKS), help="comma-separated subset")
    parser.add_argument("--out", type=Path, default=None, help="also write the tables to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sections: list[str] = []
    failed = False
    for name in args.only:
        started = time.monotonic()
        command = [sys.executable, "-m", f"benchmarks.{name}", *(["--quick"] if args.quick else [])]
        done = subprocess.run(command, capture_output=True, text=True)
        took = time.monotonic() - started
        if done.returncode == 0:
            sections.append(done.stdout.strip())
        else:
            failed = True
            tail = "\n".join(done.stderr.strip().splitlines()[-15:])
            sections.append(f"### {name}: FAILED (exit {done.returncode})\n\n```\n{tail}\n```")
        print(f"{name}: {'ok' if done.returncode == 0 else 'FAILED'} in {took:.0f} s", file=sys.stderr)
    text = "\n\n".join(sections) + "\n"
    print(text, end="")
    if args.out is not None:
        args.out.write_text(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
