"""Is the last build output older than what it was built from? (`upload` and `dev` rebuild if so.)"""

from __future__ import annotations

import json
from pathlib import Path

from edge_protocol.archive import MANIFEST_NAME

from .errors import BuildError
from .project import DEFAULT_OUT_DIR, METAFILE_NAME, load_project


def is_stale(project_dir: Path | str, out_dir: Path | str | None = None) -> bool:
    """True when there is no build, or a source, `edge.json`, `package.json`, a lockfile or the tools
    folder's list of files changed after the build's `manifest.json` was written.

    The sources are exactly the inputs esbuild recorded in the build's metafile (your files and the
    inlined `node_modules` files), so editing `src/lib/x.ts` counts, and editing an unused file does not.
    """
    try:
        config = load_project(Path(project_dir))
    except BuildError:
        return True  # building will report the problem
    out = Path(out_dir).resolve() if out_dir is not None else config.root / DEFAULT_OUT_DIR
    manifest, metafile = out / MANIFEST_NAME, out / METAFILE_NAME
    if not manifest.is_file() or not metafile.is_file():
        return True
    built_at = manifest.stat().st_mtime
    try:
        inputs = list(json.loads(metafile.read_text(encoding="utf-8")).get("inputs", {}))
    except (OSError, ValueError):
        return True
    watched = [config.root / path for path in inputs] + config.config_files()
    if config.tools_path.is_dir():
        watched.append(config.tools_path)  # its mtime changes when a tool file is added or removed
    for path in watched:
        try:
            if path.stat().st_mtime > built_at:
                return True
        except FileNotFoundError:
            return True  # an input was deleted: the build no longer matches the sources
    return False
