"""Sampling profiles of the product's processes while a benchmark loads them, via py-spy.

`record(pid, path)` starts `py-spy record` on a running process (non-blocking sampling, so the
process is not paused) writing collapsed stacks; `summarize_collapsed` turns that file into the
functions that cost the most, inclusive and self, as percentages of the samples. py-spy is an
optional tool (`pip install py-spy`); without it a benchmark's `--profile` says so and stops.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


class ProfilerMissing(RuntimeError):
    pass


def py_spy() -> str:
    import sys
    from shutil import which

    candidate = Path(sys.executable).with_name("py-spy")
    found = str(candidate) if candidate.exists() else which("py-spy")
    if not found:
        raise ProfilerMissing("py-spy is not installed; `pip install py-spy` into the venv to use --profile")
    return found


@dataclass
class Recording:
    pid: int
    path: Path
    process: subprocess.Popen

    def stop(self, timeout: float = 30.0) -> Path:
        """Stop sampling; py-spy writes its file on SIGINT."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        return self.path


def record(pid: int, path: Path, rate: int = 250, subprocesses: bool = False) -> Recording:
    command = [
        py_spy(),
        "record",
        "--pid",
        str(pid),
        "--rate",
        str(rate),
        "--format",
        "raw",
        "--output",
        str(path),
        "--nonblocking",
    ]
    if subprocesses:
        command.append("--subprocesses")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return Recording(pid, Path(path), process)


@dataclass(frozen=True)
class HotFrame:
    frame: str
    inclusive_pct: float
    self_pct: float


def _stacks(text: str) -> Iterator[tuple[list[str], int]]:
    """(frames, samples) of each line of py-spy's raw collapsed output, `frame;frame;…;leaf COUNT`."""
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if stack and count_text.isdigit():
            yield stack.split(";"), int(count_text)


def summarize_collapsed(text: str, top: int = 15) -> tuple[int, list[HotFrame]]:
    """(total samples, the `top` frames by inclusive share) from py-spy's raw collapsed output.

    A frame counts once per stack even under recursion.
    """
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for frames, count in _stacks(text):
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if total == 0:
        return 0, []
    hottest = sorted(inclusive.items(), key=lambda item: (-item[1], item[0]))
    # Frames present in (nearly) every stack — thread bootstrap, the event loop's run_forever — say
    # nothing; keep only those below 99 %.
    rows = [HotFrame(frame, 100 * n / total, 100 * own[frame] / total) for frame, n in hottest if n < 0.99 * total]
    return total, rows[:top]


def top_self(text: str, top: int = 15) -> list[tuple[str, float]]:
    """The frames where the samples actually landed (self time), as percentages."""
    own: Counter[str] = Counter()
    total = 0
    for frames, count in _stacks(text):
        total += count
        own[frames[-1]] += count
    return [(frame, 100 * n / total) for frame, n in own.most_common(top)] if total else []


def missing_profiler() -> str | None:
    """Why `--profile` cannot run (py-spy is not installed), or None when it can."""
    try:
        py_spy()
    except ProfilerMissing as exc:
        return str(exc)
    return None


def copy_to(path: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    shutil.copyfile(path, target)
    return target
