"""Resource figures of live processes: RSS (now and peak) and CPU of a process tree, plus the machine.

Linux-first: peak RSS comes from `/proc/PID/status` (VmHWM, kept by the kernel, so no spike is
missed between samples) and is cross-checked by sampling the whole tree's VmRSS, because worker
processes that start and stop during a measurement have their own high-water marks.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil


def status_bytes(pid: int, key: str) -> int:
    """One `kB` field of /proc/PID/status (VmRSS, VmHWM …) in bytes; 0 when the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(rf"^{key}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else 0


def tree(pid: int) -> list[psutil.Process]:
    """The process and all its descendants that are alive right now."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_rss(pid: int) -> int:
    total = 0
    for proc in tree(pid):
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of the tree, children that already exited included."""
    total = 0.0
    for proc in tree(pid):
        try:
            times = proc.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
        except psutil.NoSuchProcess:
            pass
    return total


@dataclass
class PeakRssSampler:
    """Samples RSS of a process and of its whole tree on a thread until stopped; keeps the peaks.

    The root's own peak and the tree's are kept apart: during a bundle swap the tree briefly holds
    the old and the new node workers, which is a different cost from the root buffering data.
    """

    pid: int
    interval: float = 0.005
    baseline: int = 0
    peak: int = 0
    root_baseline: int = 0
    root_peak: int = 0
    #: The peak of the tree without its root (a runtime's Node.js workers).
    children_peak: int = 0
    max_processes: int = 0
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> PeakRssSampler:
        self.baseline = self.peak = tree_rss(self.pid)
        self.root_baseline = self.root_peak = status_bytes(self.pid, "VmRSS")
        self.max_processes = len(tree(self.pid))
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            procs = tree(self.pid)
            total = children = 0
            for index, proc in enumerate(procs):
                try:
                    rss = proc.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
                total += rss
                if index:
                    children += rss
            self.peak = max(self.peak, total)
            self.children_peak = max(self.children_peak, children)
            self.root_peak = max(self.root_peak, status_bytes(self.pid, "VmRSS"))
            self.max_processes = max(self.max_processes, len(procs))
            self.samples += 1
            self._stop.wait(self.interval)

    def stop(self) -> int:
        """Stop sampling; returns the tree's peak growth over its baseline in bytes."""
        self._stop.set()
        if self._thread:
            self._thread.join()
        return max(0, self.peak - self.baseline)

    @property
    def root_growth(self) -> int:
        return max(0, self.root_peak - self.root_baseline)


@dataclass(frozen=True)
class Machine:
    cores: int
    cpu_model: str
    python: str
    node: str
    kernel: str

    def describe(self) -> str:
        return f"{self.cores} cores, {self.cpu_model}; Python {self.python}; Node.js {self.node}; Linux {self.kernel}"


def machine() -> Machine:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        from bundler.node import node_binary

        node = subprocess.run([node_binary(), "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:  # the table still prints without a node version
        node = "unknown"
    return Machine(os.cpu_count() or 0, model, platform.python_version(), node.lstrip("v"), platform.release())


def monotonic_ms() -> float:
    return time.monotonic() * 1000
