"""The worker sandbox (SPEC.md §10) against real Node.js workers: each attack is denied, each grant works.

The executor is set up as the runtime sets it up: an installation directory holding a token file and a
config, the bundle under it, the runtime's environment carrying a deployment secret.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from pathlib import Path

import pytest

from bundler.build import build_project
from bundler.node import node_binary
from edge_protocol.archive import MANIFEST_NAME
from edge_protocol.errors import ToolCallError, ToolErrorKind
from edge_protocol.manifest import Manifest, content_checksum, file_entry_for
from edge_runtime.executor import BundleLoadError, Executor
from edge_runtime.sandbox import SCRATCH_DIR
from tests.fixtures.projects.support import make_project
from tests.support.bundles import JsTool, write_bundle

LOGGER = "tests.sandbox"
SECRET = "ds_" + "9" * 40
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"

ATTACKS = [
    JsTool(
        "read_env",
        "return { secret: process.env.DEPLOYMENT_SECRET ?? null, path: process.env.AUTH_TOKEN_PATH ?? null,"
        " rpc: process.env.TOOL_RPC_URL ?? null, keys: Object.keys(process.env).sort() };",
    ),
    JsTool("read_file", "return require('fs').readFileSync(input.path, 'utf8');"),
    JsTool("read_file_async", "return await require('fs').promises.readFile(input.path, 'utf8');"),
    JsTool("write_file", "require('fs').writeFileSync(input.path, 'pwned'); return 'written';"),
    JsTool("spawn", "return require('child_process').execFileSync('/bin/echo', ['spawned']).toString().trim();"),
    JsTool(
        "thread",
        """
        const { Worker } = require('worker_threads');
        return await new Promise((resolve, reject) => {
          const w = new Worker('require("worker_threads").parentPort.postMessage(42)', { eval: true });
          w.once('message', resolve); w.once('error', reject);
        });""",
    ),
    JsTool(
        "ctx",
        "require('fs').writeFileSync(require('path').join(ctx.scratchDir, 'note.txt'), 'kept');"
        " return { scratchDir: ctx.scratchDir, home: process.env.HOME, tmp: process.env.TMPDIR,"
        " note: require('fs').readFileSync(require('path').join(ctx.scratchDir, 'note.txt'), 'utf8'),"
        " secrets: ctx.secrets, envKey: process.env.API_KEY ?? null, passed: process.env.MY_BASE ?? null };",
    ),
]


@pytest.fixture
def install_dir(tmp_path) -> Path:
    """An installation directory as a runtime has it, with its credentials beside the bundle."""
    directory = tmp_path / "install"
    directory.mkdir()
    (directory / "auth-token.json").write_text(json.dumps({"token": TOKEN}))
    (directory / "config.json").write_text(json.dumps({"deploymentId": "dep-1"}))
    (directory / "edge-connector.env").write_text(f'DEPLOYMENT_SECRET="{SECRET}"\n')
    return directory


@pytest.fixture
async def start(install_dir):
    made: list[Executor] = []

    async def start(
        sandbox: dict | None = None,
        host_env: dict | None = None,
        secrets: dict | None = None,
        bundle_dir: Path | None = None,
    ) -> Executor:
        """A sandboxed executor serving ATTACKS, or the bundle already written in `bundle_dir`."""
        if bundle_dir is None:
            bundle_dir = install_dir / ".bundles" / "abc"
            manifest = write_bundle(bundle_dir, ATTACKS, sandbox=sandbox)
        else:
            manifest = Manifest.from_json((bundle_dir / MANIFEST_NAME).read_text())
        env = {
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "DEPLOYMENT_SECRET": SECRET,
            "DEPLOYMENT_ID": "dep-1",
            "AUTH_TOKEN_PATH": str(install_dir / "auth-token.json"),
            "TOOL_RPC_URL": "ws://127.0.0.1:1/tool-rpc",
            "EDGE_CONNECTOR_TOKEN": TOKEN,
            "HTTPS_PROXY": "http://127.0.0.1:3128",
            **(host_env or {}),
        }
        executor = Executor(
            1,
            16,
            30,
            node_binary(),
            logging.getLogger(LOGGER),
            scratch_root=install_dir / SCRATCH_DIR,
            host_env=env,
            protected_paths=[install_dir],
        )
        made.append(executor)
        if secrets is not None:
            await executor.set_secrets(secrets)
        await executor.load(bundle_dir, manifest)
        return executor

    yield start
    for executor in made:
        await executor.close(drain_timeout=2)


async def denied(executor: Executor, tool: str, arguments: dict, permission: str, key: str) -> None:
    with pytest.raises(ToolCallError) as caught:
        await executor.call(tool, arguments, call_id="attack")
    error = caught.value
    assert error.kind is ToolErrorKind.TOOL_ERROR and error.code == "permission_denied", error
    assert permission in error.message and f"edge.json {key}" in error.message, error.message
    # The worker keeps serving: the next call answers.
    assert (await executor.call("ctx", {}, call_id="after"))["note"] == "kept"


async def test_runtime_environment_never_reaches_a_tool(start):
    executor = await start()
    seen = await executor.call("read_env", {}, call_id="c")
    assert seen["secret"] is None and seen["path"] is None and seen["rpc"] is None
    assert set(seen["keys"]) <= {"PATH", "LANG", "HOME", "TMPDIR", "HTTPS_PROXY", "EC_CHANNEL_FD"}
    assert "HTTPS_PROXY" in seen["keys"]  # tools reach the network the way the runtime does


async def test_reading_the_installation_directory_is_denied(start, install_dir):
    executor = await start()
    for name in ("auth-token.json", "config.json", "edge-connector.env"):
        await denied(executor, "read_file", {"path": str(install_dir / name)}, "FileSystemRead", "permissions.fsRead")
    # The same through a relative path from the bundle, and asynchronously.
    await denied(executor, "read_file", {"path": "../../auth-token.json"}, "FileSystemRead", "permissions.fsRead")
    await denied(
        executor,
        "read_file_async",
        {"path": str(install_dir / "auth-token.json")},
        "FileSystemRead",
        "permissions.fsRead",
    )


async def test_writing_outside_scratch_spawning_and_threads_are_denied(start, install_dir, tmp_path):
    executor = await start()
    target = tmp_path / "outside.txt"
    await denied(executor, "write_file", {"path": str(target)}, "FileSystemWrite", "permissions.fsWrite")
    await denied(
        executor, "write_file", {"path": str(install_dir / "auth-token.json")}, "FileSystemWrite", "permissions.fsWrite"
    )
    assert not target.exists() and TOKEN in (install_dir / "auth-token.json").read_text()
    await denied(executor, "spawn", {}, "ChildProcess", "permissions.childProcess")
    await denied(executor, "thread", {}, "WorkerThreads", "permissions.workerThreads")


async def test_scratch_dir_is_home_and_tmpdir_and_writable(start, install_dir):
    executor = await start()
    seen = await executor.call("ctx", {}, call_id="c")
    scratch = str((install_dir / SCRATCH_DIR / "test-tools").resolve())
    assert seen["scratchDir"] == seen["home"] == seen["tmp"] == scratch
    assert seen["note"] == "kept" and seen["secrets"] == {}


async def test_each_grant_works(start, tmp_path):
    readable, writable = tmp_path / "data", tmp_path / "out"
    readable.mkdir()
    writable.mkdir()
    (readable / "in.txt").write_text("granted")
    executor = await start(
        sandbox={
            "env": ["MY_BASE"],
            "permissions": {
                "fsRead": [str(readable)],
                "fsWrite": [str(writable)],
                "childProcess": True,
                "workerThreads": True,
            },
        },
        host_env={"MY_BASE": "https://api.example.test"},
    )
    assert await executor.call("read_file", {"path": str(readable / "in.txt")}, call_id="r") == "granted"
    assert await executor.call("write_file", {"path": str(writable / "o.txt")}, call_id="w") == "written"
    assert (writable / "o.txt").read_text() == "pwned"
    assert await executor.call("spawn", {}, call_id="s") == "spawned"
    assert await executor.call("thread", {}, call_id="t") == 42
    assert (await executor.call("ctx", {}, call_id="c"))["passed"] == "https://api.example.test"
    # `env` passes named variables only: the runtime's credentials stay out even with grants.
    assert (await executor.call("read_env", {}, call_id="e"))["secret"] is None


async def test_a_grant_that_would_expose_the_installation_directory_is_refused(start, install_dir):
    for path in (install_dir, install_dir / "auth-token.json", install_dir.parent):
        with pytest.raises(BundleLoadError, match="installation directory"):
            await start(sandbox={"permissions": {"fsRead": [str(path)]}})


async def test_secrets_reach_ctx_and_only_listed_ones_reach_env(start):
    executor = await start(
        sandbox={"secrets": {"required": ["API_KEY"]}, "secretsInEnv": ["API_KEY"]},
        secrets={"API_KEY": "k-123456", "OTHER": "o-654321"},
    )
    seen = await executor.call("ctx", {}, call_id="c")
    assert seen["secrets"] == {"API_KEY": "k-123456", "OTHER": "o-654321"}
    assert seen["envKey"] == "k-123456"
    keys = (await executor.call("read_env", {}, call_id="e"))["keys"]
    assert "API_KEY" in keys and "OTHER" not in keys


async def test_a_missing_required_secret_fails_the_call_with_the_fix(start):
    executor = await start(sandbox={"secrets": {"required": ["API_KEY"]}}, secrets={})
    with pytest.raises(ToolCallError) as caught:
        await executor.call("ctx", {}, call_id="c")
    assert caught.value.kind is ToolErrorKind.TOOL_ERROR and caught.value.code == "missing_secret"
    assert "edge-connector secret put API_KEY" in caught.value.message
    await executor.set_secrets({"API_KEY": "k-abcdef"})
    assert (await executor.call("ctx", {}, call_id="c2"))["secrets"] == {"API_KEY": "k-abcdef"}


# ------------------------------------------------------------------------ the real runtime, end to end
@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    from tests.support.platform import PlatformProcess

    proc = PlatformProcess(tmp_path_factory.mktemp("sandbox-platform") / "data").start()
    try:
        yield proc
    finally:
        proc.stop()


def test_a_runtime_with_deployment_credentials_leaks_none_of_them_to_tools(platform, tmp_path):
    """The attacks of the issue through platform -> runtime -> node: every one denied, the tool keeps serving."""
    import uuid

    import httpx

    from tests.support.runtime import RuntimeProcess, write_token_file

    unique = uuid.uuid4().hex[:12]
    token = platform.user_token(email=f"{unique}@example.com", org_id=f"org-{unique}")
    api = httpx.Client(base_url=platform.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    created = api.post("/api/deployments", json={"name": "sandboxed"}).json()
    directory = tmp_path / "inst"
    write_token_file(directory, token, platform.url)  # a user token left in the install dir: bait
    (directory / "config.json").write_text(json.dumps({"workers": 1}))
    write_bundle(directory, ATTACKS, version=1)
    rt = RuntimeProcess(
        directory,
        env={
            "TOOL_RPC_URL": platform.ws_url,
            "DEPLOYMENT_ID": created["deploymentId"],
            "DEPLOYMENT_SECRET": created["secret"],
        },
    ).start()
    try:
        rt.wait_healthy()
        assert "sandbox: default sandbox" in rt.wait_for_log("Loaded bundle")

        def call(tool: str, arguments: dict) -> httpx.Response:
            return api.post(f"/api/tools/{tool}/call", json={"arguments": arguments})

        seen = call("read_env", {}).json()["output"]
        assert seen["secret"] is None and seen["path"] is None and "DEPLOYMENT_ID" not in seen["keys"]
        attacks = [
            ("read_file", {"path": "../../auth-token.json"}, "FileSystemRead"),
            ("read_file", {"path": str(directory / "config.json")}, "FileSystemRead"),
            ("write_file", {"path": str(tmp_path / "x.txt")}, "FileSystemWrite"),
            ("spawn", {}, "ChildProcess"),
            ("thread", {}, "WorkerThreads"),
        ]
        for tool, arguments, permission in attacks:
            response = call(tool, arguments)
            error = response.json()["error"]
            assert response.status_code == 502 and error["code"] == "tool_error", response.text
            assert error["toolCode"] == "permission_denied"
            assert permission in error["message"] and "edge.json permissions." in error["message"]
            assert call("ctx", {}).status_code == 200  # the worker still answers
        assert created["secret"] not in rt.text and token not in rt.text
    finally:
        rt.stop()
        api.close()


# Two tools sharing a module: the build puts it in a chunk both entries import (ES modules). The same
# sources built as CommonJS, one self-contained file per tool, is what builds before code splitting
# shipped: bundles of that shape already on disk and on the platform must keep loading.
SHARED_SOURCES = {
    "src/lib/shout.js": "export const shout = (text) => text.toUpperCase() + '!';\n",
    **{
        f"src/tools/{name}.js": (
            'import { shout } from "../lib/shout.js";\n'
            f"export default {{ name: {name!r}, description: 'd', inputSchema: {{ type: 'object' }},\n"
            "  async run(input) {\n"
            "    return { text: shout(input.text), dir: __dirname.endsWith('dist'),"
            " fs: typeof require('fs').readFileSync };\n"
            "  } };\n"
        )
        for name in ("loud", "louder")
    },
}


def commonjs_bundle(built: Path, sources: list[Path], dest: Path) -> Manifest:
    """`built` (a build output) rebuilt the way builds before code splitting made it: CommonJS."""
    from bundler.esbuild import find_esbuild

    dist = dest / "dist"
    done = subprocess.run(
        [find_esbuild().path, *map(str, sources), "--bundle", "--platform=node", "--format=cjs", f"--outdir={dist}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    (dist / "package.json").write_text('{\n  "type": "commonjs"\n}\n')
    old = Manifest.from_json((built / MANIFEST_NAME).read_text())
    files = [file_entry_for(dest, path.relative_to(dest).as_posix()) for path in sorted(dist.iterdir())]
    manifest = Manifest.from_dict(
        {
            **old.to_dict(),
            "files": [{"path": f.path, "sha256": f.sha256, "size": f.size} for f in files],
            "checksum": content_checksum(files),
        }
    )
    (dest / MANIFEST_NAME).write_text(manifest.to_json())
    return manifest


async def test_tools_sharing_a_chunk_and_old_commonjs_bundles_both_load_in_the_sandbox(start, install_dir, tmp_path):
    project = make_project(tmp_path / "p", files=SHARED_SOURCES)
    result = build_project(project)
    assert any(f.path.startswith("dist/chunk-") for f in result.manifest.files)
    bundles = install_dir / ".bundles"
    shutil.copytree(result.out_dir, bundles / "esm")
    old = commonjs_bundle(result.out_dir, sorted((project / "src/tools").iterdir()), bundles / "cjs")
    assert not any(f.path.startswith("dist/chunk-") for f in old.files)
    for folder in ("esm", "cjs"):
        executor = await start(bundle_dir=bundles / folder)
        for tool in ("loud", "louder"):
            answer = await executor.call(tool, {"text": folder}, call_id="c")
            assert answer == {"text": f"{folder.upper()}!", "dir": True, "fs": "function"}, (folder, tool)
