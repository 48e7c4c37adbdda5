"""esbuild kept between a dev session's builds: an esbuild context (its JavaScript API, in a Node.js
process started once) whose rebuild re-reads only the files that changed.

A build of the example project spends most of its esbuild time on zod, which a save never changes;
a fresh `esbuild` process parses it every time, a context keeps it (~30 % less per build here). The
options are the command-line build's (`build.esbuild_options`), so the output is the same files.
When the context cannot be used (no esbuild JavaScript API of the binary's version beside it, Node.js
missing or crashing), `build()` answers None and the caller runs the command-line esbuild.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import subprocess
import threading
from pathlib import Path
from typing import IO, Any

from .esbuild import Esbuild, cached_install_dir
from .node import NodeNotFound, node_binary, node_env

SCRIPT = Path(__file__).with_name("incremental.mjs")
#: A rebuild should take well under a second; past this the process is considered stuck.
REBUILD_TIMEOUT_SECONDS = 300


class EsbuildErrors(Exception):
    """The build failed; the message is esbuild's text log of the errors (what the CLI prints)."""


class IncrementalEsbuild:
    """One Node.js process holding one esbuild context; thread-safe; `close()` ends it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._for: tuple[str, str] | None = None  # (esbuild binary, its JavaScript API) the process runs

    def build(self, esbuild: Esbuild, root: Path, options: dict[str, Any], outdir: Path) -> dict[str, Any] | None:
        """Build into `outdir` with `options`; returns the metafile, None when the context cannot be used.

        Raises EsbuildErrors when esbuild reports errors (a syntax error, an unresolved import).
        """
        api = javascript_api(esbuild)
        if api is None:
            return None
        with self._lock:
            process = self._ensure_process(esbuild.path, api)
            if process is None:
                return None
            metafile = outdir.parent / f".metafile-{secrets.token_hex(4)}.json"
            key = hashlib.sha256(json.dumps([str(root), options], sort_keys=True).encode()).hexdigest()
            request = {
                "id": secrets.token_hex(8),
                "key": key,
                "root": str(root),
                "options": options,
                "outdir": str(outdir),
                "metafile": str(metafile),
            }
            answer = self._ask(process, request)
            if answer is None or "crash" in answer:
                self._stop()
                return None
            if not answer.get("ok"):
                raise EsbuildErrors(str(answer.get("errors", "")))
            try:
                return json.loads(metafile.read_text(encoding="utf-8"))
            finally:
                metafile.unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _ensure_process(self, binary: str, api: Path) -> subprocess.Popen[bytes] | None:
        if self._process is not None and self._process.poll() is None and self._for == (binary, str(api)):
            return self._process
        self._stop()
        try:
            env = {**node_env(), "ESBUILD_BINARY_PATH": binary}  # exactly the build's esbuild
            self._process = subprocess.Popen(
                [node_binary(), str(SCRIPT), str(api)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
            )
        except (OSError, NodeNotFound):
            return None
        self._for = (binary, str(api))
        return self._process

    def _ask(self, process: subprocess.Popen[bytes], request: dict[str, Any]) -> dict[str, Any] | None:
        """Send one request and read its answer; None when the process ended, broke or hung."""
        assert process.stdin is not None and process.stdout is not None
        answer: list[dict[str, Any]] = []
        reader = threading.Thread(target=_read_answer, args=(process.stdout, request["id"], answer), daemon=True)
        try:
            process.stdin.write(json.dumps(request).encode() + b"\n")
            process.stdin.flush()
        except OSError:
            return None
        reader.start()
        reader.join(REBUILD_TIMEOUT_SECONDS)
        return answer[0] if answer else None

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        try:
            if process.stdin is not None:
                process.stdin.close()  # it disposes the context and exits
            process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()


def _read_answer(stream: IO[bytes], request_id: str, answer: list[dict[str, Any]]) -> None:
    for line in stream:
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict) and parsed.get("id") == request_id:
            answer.append(parsed)
            return


def javascript_api(esbuild: Esbuild) -> Path | None:
    """esbuild's JavaScript API (`esbuild/lib/main.js`) of the binary's own version: beside the binary
    (`node_modules/@esbuild/<platform>/bin/esbuild` or `node_modules/.bin/esbuild`), else in the cache."""
    binary = Path(esbuild.path)
    candidates = [folder for folder in list(binary.parents)[:4] if folder.name == "node_modules"]
    candidates.append(cached_install_dir(esbuild.version) / "node_modules")
    for node_modules in candidates:
        package = node_modules / "esbuild"
        try:
            version = json.loads((package / "package.json").read_text(encoding="utf-8")).get("version")
        except (OSError, ValueError):
            continue
        if version == esbuild.version and (package / "lib" / "main.js").is_file():
            return package / "lib" / "main.js"
    return None
