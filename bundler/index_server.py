"""The Node.js indexer of a build (`indexer.cjs --serve`), which can outlive it.

`build_project` starts one at its very beginning, so Node.js boots while the project is read and
esbuild runs, and stops it at the end. A dev session keeps one for all its saves: Node.js is already
up, and the shared chunks a save did not change are already loaded (the indexer resolves a chunk it
has seen to its first URL), so a save loads only the tools' own small entry files (the example
project: ~20 ms instead of ~160).

A tool's load-time side effects (timers, globals) stay in the process until it ends; any failure
ends it, and the next build starts a clean one.
"""

from __future__ import annotations

import collections
import contextlib
import json
import queue
import secrets
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .indexing import (
    INDEX_TIMEOUT_SECONDS,
    INDEXER_SCRIPT,
    blocked_error,
    culprit,
    ended_error,
    indexer_node,
    labels_by_file,
)
from .node import node_env

#: After this many builds the indexer starts afresh, so old tool versions do not pile up in its memory.
BUILDS_PER_PROCESS = 200


class IndexServer:
    """One `indexer.cjs --serve` process, started on first use; `close()` ends it. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._done: queue.Queue[str | None] = queue.Queue()
        self._stderr: collections.deque[str] = collections.deque(maxlen=20)
        self._builds = 0
        self._stderr_reader: threading.Thread | None = None

    def start(self) -> None:
        """Start Node.js now (it boots while the first build runs esbuild)."""
        with self._lock:
            self._ensure_process()

    @contextlib.contextmanager
    def started(self) -> Iterator[IndexServer]:
        """Started now, closed at the end of the block: one build's own indexer."""
        self.start()
        try:
            yield self
        finally:
            self.close()

    def load_definitions(self, built_files: list[Path], labels: list[str] | None = None) -> list[dict[str, Any]]:
        """Load every built file in Node.js; one raw result per file, in order.

        `labels` (the source files, for messages) name the tool that ends or blocks the process while loading.
        """
        names = labels_by_file(built_files, labels)
        with self._lock, tempfile.TemporaryDirectory(prefix="edge-index-") as scratch:
            process = self._ensure_process()
            result_path = Path(scratch) / "index.json"
            request_id = secrets.token_hex(8)
            request = {"id": request_id, "result": str(result_path), "files": list(map(str, built_files))}
            try:
                assert process.stdin is not None
                process.stdin.write(json.dumps(request).encode() + b"\n")
                process.stdin.flush()
                answered = self._wait_for(request_id)
            except (BrokenPipeError, OSError):
                answered = False
            except TimeoutError:
                self._stop()
                raise blocked_error(culprit(result_path, names)) from None
            if not answered or not result_path.is_file():
                detail = self._exit_detail(process)
                self._stop()
                raise ended_error(culprit(result_path, names), detail)
            self._builds += 1
            if self._builds >= BUILDS_PER_PROCESS:
                self._stop()
            return json.loads(result_path.read_text(encoding="utf-8"))

    def close(self) -> None:
        with self._lock:
            self._stop()

    # ----------------------------------------------------------------------------- process
    def _ensure_process(self) -> subprocess.Popen[bytes]:
        if self._process is not None and self._process.poll() is None:
            return self._process
        self._stop()
        self._done = queue.Queue()
        self._stderr.clear()
        self._builds = 0
        process = subprocess.Popen(
            [indexer_node(), str(INDEXER_SCRIPT), "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=node_env(),
        )
        assert process.stdout is not None and process.stderr is not None
        threading.Thread(target=_read_answers, args=(process.stdout, self._done), daemon=True).start()
        self._stderr_reader = threading.Thread(target=_keep_tail, args=(process.stderr, self._stderr), daemon=True)
        self._stderr_reader.start()
        self._process = process
        return process

    def _wait_for(self, request_id: str) -> bool:
        """True when the indexer answered `request_id`; False when it exited first."""
        while True:
            try:
                answer = self._done.get(timeout=INDEX_TIMEOUT_SECONDS)
            except queue.Empty:
                raise TimeoutError from None
            if answer is None:
                return False
            if answer == request_id:
                return True

    def _exit_detail(self, process: subprocess.Popen[bytes]) -> str:
        try:
            code = process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        if self._stderr_reader is not None:
            self._stderr_reader.join(timeout=2)  # its last line is the reason
        return self._stderr[-1] if self._stderr else f"exit code {code}"

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            try:
                process.stdin.close()  # the indexer exits when its input ends
            except OSError:
                pass
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _read_answers(stream: IO[bytes], answers: queue.Queue[str | None]) -> None:
    """Every `{"done": id}` line; whatever the tools print on stdout is read and dropped."""
    for line in stream:
        if line.startswith(b'{"done":'):
            try:
                answers.put(str(json.loads(line)["done"]))
            except (ValueError, KeyError):
                pass
    answers.put(None)  # the process ended


def _keep_tail(stream: IO[bytes], tail: collections.deque[str]) -> None:
    for line in stream:
        text = line.decode("utf-8", "replace").strip()
        if text:
            tail.append(text)
