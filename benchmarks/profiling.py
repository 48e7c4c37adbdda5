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
    command = [py_spy(), "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw",
               "--output", str(path), "--nonblocking"]
    if subprocesses:
        command.append("--subprocesses")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return Recording(pid, Path(path), process)


@dataclass(frozen=True)
class HotFrame:
    frame: str
    inclusive_pct: float
    self_pct: float


def summarize_collapsed(text: str, top: int = 15) -> tuple[int, list[HotFrame]]:
    """(total samples, the `top` frames by inclusive share) from py-spy's raw collapsed output.

    Each line is `frame;frame;…;leaf COUNT`; a frame counts once per stack even under recursion.
    """
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
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
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        total += int(count_text)
        own[stack.split(";")[-1]] += int(count_text)
    return [(frame, 100 * n / total) for frame, n in own.most_common(top)] if total else []


def available() -> bool:
    try:
        py_spy()
        return True
    except ProfilerMissing:
        return False


def copy_to(path: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    shutil.copyfile(path, target)
    return target
