"""`kill -9` at random instants of a sync always restarts on a whole bundle (SPEC.md §8 Sync).

A child process repeats the disk side of a sync as fast as it can: stream an archive into the
installation directory, unpack and verify it, commit it, and prune. The test kills it with SIGKILL
at a random instant, then checks what a restarting runtime would find. The instants come from a
fixed seed (EC_TEST_SEED overrides it, to explore others); the seed is printed and named in every
failure so a run can be replayed. The kill lands at a time, not at a line, so a replay is close to
the original, not identical.
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

from edge_runtime.bundle_store import BundleStore
from tests.support.bundles import JsTool, make_archive

RUNS = 20
SEED = 20261130

CHILD = textwrap.dedent("""
    import shutil, sys
    from pathlib import Path
    from edge_runtime.bundle_store import BundleStore

    install, archives = Path(sys.argv[1]), [(Path(a), c) for a, c in zip(sys.argv[2::2], sys.argv[3::2])]
    store = BundleStore(install)
    store.recover()
    print("ready", flush=True)
    version = 1
    while True:
        for archive, checksum in archives:
            download = store.new_download_path()
            with open(archive, "rb") as source, open(download, "wb") as out:
                shutil.copyfileobj(source, out, 4096)   # small chunks: like a streamed download
            bundle_dir, manifest = store.stage_archive(download, checksum)
            download.unlink()
            version += 1
            store.activate(bundle_dir, manifest.with_version(version))
""")


def test_kill_9_at_random_points_of_a_sync_leaves_a_whole_bundle(tmp_path):
    seed = int(os.environ.get("EC_TEST_SEED", SEED))
    print(f"seed {seed} (replay with EC_TEST_SEED={seed})")
    rng = random.Random(seed)
    # Three bundles with several files each, so a torn state would show up as a mix.
    archives = []
    for tag in ("a", "b", "c"):
        tools = [JsTool(f"t{i}", f"return '{tag}{i}';", prelude=f"// {tag * 2000}") for i in range(6)]
        archives.append(make_archive(tmp_path / f"build-{tag}", tools, name="crash-test"))
    checksums = {manifest.checksum for _, manifest in archives}

    install = tmp_path / "install"
    store = BundleStore(install)
    first_path, first = archives[0]
    store.activate(*store.stage_archive(first_path, first.checksum))

    argv = [sys.executable, "-c", CHILD, str(install)]
    for path, manifest in archives:
        argv += [str(path), manifest.checksum]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    seen = set()
    for run in range(RUNS):
        child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
        try:
            child.wait(timeout=rng.uniform(0.0, 0.15))  # the random instant; it never exits by itself
            raise AssertionError(f"the sync loop exited early: {child.stderr.read()}")
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()

        found = BundleStore(install).recover()
        assert found is not None, f"run {run} (seed {seed}): no bundle after the crash"
        bundle_dir, manifest = found
        assert manifest.checksum in checksums
        seen.add(manifest.checksum)
        _assert_whole(install, manifest, f"run {run} (seed {seed})")
        assert not [p for p in (install / ".bundles").iterdir() if p.name.startswith(".staging-")]
    assert len(seen) >= 2, "the kills never landed after a commit; the test did not exercise swaps"


def _assert_whole(install: Path, manifest, where: str) -> None:
    """Through the user-visible `dist/`: exactly the manifest's files, each with its checksum."""
    listed = {entry.path: entry.sha256 for entry in manifest.files}
    on_disk = {f"dist/{p.relative_to(install / 'dist')}" for p in (install / "dist").rglob("*") if p.is_file()}
    assert on_disk == set(listed), f"{where}: dist/ holds {sorted(on_disk)}, manifest lists {sorted(listed)}"
    for path, sha in listed.items():
        assert hashlib.sha256((install / path).read_bytes()).hexdigest() == sha, f"{where}: {path} is torn"
