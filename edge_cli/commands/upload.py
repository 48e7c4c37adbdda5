"""`edge-connector upload [DIR] [--set-default] [--deployment ID]`: build if stale, then publish a version.

An unchanged bundle (same checksum as a version already on the platform) is not sent again; the
command reports that version. The 50 MB limit is checked before a single byte goes out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..console import err, out, print_json
from ..errors import CliError
from ..options import JSON_OPTION, PLATFORM_OPTION

if TYPE_CHECKING:  # imported where used, so that `--help` stays light
    from edge_protocol.sandbox import SandboxRequest

    from ..client import PlatformClient


@dataclass(frozen=True)
class LocalBundle:
    name: str
    checksum: str
    archive: Path
    size: int
    sandbox: SandboxRequest


def local_bundle(project_dir: Path, archive: Path | None) -> LocalBundle:
    """The bundle to upload: a given archive (verified here), or the project's build, rebuilt if stale."""
    from bundler.build import default_out_dir, is_stale
    from bundler.errors import BuildError
    from bundler.project import load_project
    from edge_protocol.archive import MANIFEST_NAME
    from edge_protocol.manifest import Manifest, ManifestError

    from .build import run_build

    if archive is not None:
        return _from_archive(archive)
    try:
        config = load_project(project_dir)
    except BuildError as exc:
        raise CliError(exc.message, exc.hint) from None
    out_dir = default_out_dir(config.root)
    archive_path = out_dir / config.archive_file_name
    if is_stale(config.root) or not archive_path.is_file():
        err.print("Sources changed since the last build: building…", markup=False)
        result = run_build(config.root)
        return LocalBundle(
            result.manifest.bundle, result.checksum, result.archive_path, result.archive_size, result.manifest.sandbox
        )
    try:
        manifest = Manifest.load(out_dir / MANIFEST_NAME)
    except (OSError, ManifestError) as exc:
        raise CliError(f"The last build in {out_dir} is unreadable ({exc})", "Run edge-connector build") from None
    return LocalBundle(manifest.bundle, manifest.checksum, archive_path, archive_path.stat().st_size, manifest.sandbox)


def _from_archive(archive: Path) -> LocalBundle:
    from edge_protocol.archive import ArchiveError, read_archive, too_large_message
    from edge_protocol.limits import MAX_ARCHIVE_BYTES

    if not archive.is_file():
        raise CliError(f"No archive at {archive}", "Pass the .tar.gz written by edge-connector build")
    size = archive.stat().st_size
    if size > MAX_ARCHIVE_BYTES:
        raise CliError(too_large_message(size))
    import shutil
    import tempfile

    scratch = Path(tempfile.mkdtemp(prefix="edge-upload-"))
    try:
        manifest = read_archive(archive, scratch / "bundle")
    except ArchiveError as exc:
        raise CliError(
            f"{archive} is not a valid bundle archive: {exc}", "Rebuild it with edge-connector build"
        ) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return LocalBundle(manifest.bundle, manifest.checksum, archive, size, manifest.sandbox)


def existing_version(client: PlatformClient, bundle: LocalBundle) -> dict | None:
    """The platform's version of this exact content, if it already has one."""
    from ..client import refusal_to_cli_error

    status, body = client.request_raw("GET", f"/api/bundles/{bundle.name}", retry=True)
    if status == 404:
        return None  # a bundle name the platform has never seen
    if status >= 400:
        raise refusal_to_cli_error(status, body, client.url)
    return next((v for v in body["versions"] if v["checksum"] == bundle.checksum), None)


def send(client: PlatformClient, bundle: LocalBundle, show_progress: bool = True) -> tuple[dict, bool]:
    """Upload with a progress bar on stderr; returns `(version info, created)`."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    with Progress(
        TextColumn("Uploading {task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err.console,
        transient=True,
        disable=not (show_progress and err.is_terminal),
    ) as progress:
        task = progress.add_task(bundle.name, total=bundle.size)
        status, data = client.upload(
            f"/api/bundles/{bundle.name}/versions",
            bundle.archive,
            {"X-Bundle-Checksum": bundle.checksum},
            progress=lambda n: progress.advance(task, n),
            restart=lambda: progress.reset(task, total=bundle.size),
        )
    return data, status == 201


def publish(
    project_dir: Path,
    *,
    archive: Path | None = None,
    set_default: bool = False,
    deployment: str | None = None,
    platform: str | None = None,
    show_progress: bool = True,
) -> dict:
    """Build if needed, upload unless unchanged, then apply `--set-default` / `--deployment` (also used by `dev`)."""
    from edge_protocol.archive import too_large_message
    from edge_protocol.limits import MAX_ARCHIVE_BYTES

    from ..client import connect, load_token
    from ..secret_warnings import warn_missing, with_missing

    load_token()  # fail on a missing token before spending time on a build
    bundle = local_bundle(project_dir, archive)
    if bundle.size > MAX_ARCHIVE_BYTES:
        raise CliError(too_large_message(bundle.size))
    with connect(platform, project_dir) as client:
        version = existing_version(client, bundle)
        uploaded = version is None
        if version is None:
            version, uploaded = send(client, bundle, show_progress)
        result = {**version, "uploaded": uploaded, "sandbox": bundle.sandbox.to_wire()}
        missing: list[str] = []
        if set_default:
            client.put("/api/bundles/default", {"name": bundle.name, "version": version["version"]})
            result["default"] = True
            missing += warn_missing(client, bundle.name, version["version"], None)
        if deployment:
            client.put(f"/api/deployments/{deployment}/bundle", {"name": bundle.name, "version": version["version"]})
            result["assignedTo"] = deployment
            missing += [
                m for m in warn_missing(client, bundle.name, version["version"], deployment) if m not in missing
            ]
    return with_missing(result, missing)


def upload(
    directory: Path = typer.Argument(Path("."), help="The tool project folder.", show_default="."),
    set_default: bool = typer.Option(False, "--set-default", help="Also make this version the org default."),
    deployment: str = typer.Option(None, "--deployment", help="Also assign this version to that deployment."),
    archive: Path = typer.Option(None, "--archive", help="Upload this prebuilt archive instead of building DIR."),
    platform: str = PLATFORM_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Build if the sources changed, check the 50 MB limit, upload with a progress bar, print name, version, checksum."""
    result = publish(
        directory,
        archive=archive,
        set_default=set_default,
        deployment=deployment,
        platform=platform,
        show_progress=not as_json,
    )
    if as_json:
        print_json(result)
        return
    state = "Uploaded" if result["uploaded"] else "Unchanged, not sent again:"
    out.print(f"{state} {result['name']} version {result['version']} ({result['size']:,} bytes)")
    out.print(f"Checksum  {result['checksum']}")
    from edge_protocol.sandbox import SandboxRequest

    out.print(f"Asks for  {SandboxRequest.from_wire(result.get('sandbox')).summary()}", markup=False)
    if result.get("default"):
        out.print(f"Org default is now {result['name']}@{result['version']}.")
    if result.get("assignedTo"):
        out.print(f"Deployment {result['assignedTo']} now runs {result['name']}@{result['version']}.")


def register(app: typer.Typer) -> None:
    app.command("upload")(upload)
