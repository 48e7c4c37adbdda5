"""Bundles: streamed upload, versions, download, the org default, and the connectors' assignment poll."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as FastApiPath
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from edge_protocol.archive import ArchiveError, ArchiveTooLarge, read_archive
from edge_protocol.limits import BUNDLE_NAME_RE, MAX_ARCHIVE_BYTES
from edge_protocol.manifest import Manifest

from .api_deployments import owned_deployment, require_bundle
from .auth import Principal, current_principal, current_user
from .errors import ApiError, not_found
from .events import AssignmentChanged
from .models import (
    AUTH_ERRORS,
    AssignedBundle,
    AssignmentPoll,
    AssignmentRequest,
    BundleList,
    BundleSummary,
    BundleVersionInfo,
    DefaultInfo,
    DefaultResponse,
    DeploymentAssignmentInfo,
    ToolInfo,
    error_responses,
)
from .store import BundleVersion, Store

router = APIRouter(tags=["bundles"])
User = Annotated[Principal, Depends(current_user)]
AnyToken = Annotated[Principal, Depends(current_principal)]
#: A version in a path: SQLite integers are 64-bit, and no bundle gets anywhere near 2**31 versions.
VersionNumber = Annotated[int, FastApiPath(ge=1, le=2**31 - 1)]
_CHECKSUM_HEADER = re.compile(r"^sha256:[0-9a-f]{64}$")
#: `/api/bundles/default` is the org default, so no bundle may be called that.
RESERVED_NAME = "default"


def _platform(request: Request):
    return request.app.state.platform


# ------------------------------------------------------------------------------------ views
def version_info(record: BundleVersion) -> BundleVersionInfo:
    return BundleVersionInfo(
        name=record.name,
        version=record.version,
        checksum=record.checksum,
        size=record.size,
        tools=[ToolInfo(**tool) for tool in record.tools],
        createdAt=record.created_at,
        archiveUrl=record.archive_url,
        sandbox=record.sandbox,
    )


def default_info(store: Store, org_id: str) -> DefaultInfo | None:
    default = store.get_default(org_id)
    if default is None:
        return None
    found = store.get_bundle_version(org_id, default.name, default.version)
    return DefaultInfo(name=default.name, version=default.version, resolvedVersion=found.version if found else None)


def assignment_infos(store: Store, org_id: str) -> list[DeploymentAssignmentInfo]:
    names = {d.id: d.name for d in store.list_deployments(org_id)}
    infos = []
    for assignment in store.list_assignments(org_id):
        assert assignment.deployment_id is not None  # the assignments table holds deployments' rows only
        found = store.get_bundle_version(org_id, assignment.name, assignment.version)
        infos.append(
            DeploymentAssignmentInfo(
                deploymentId=assignment.deployment_id,
                deploymentName=names.get(assignment.deployment_id),
                name=assignment.name,
                version=assignment.version,
                resolvedVersion=found.version if found else None,
            )
        )
    return infos


def bundle_summaries(store: Store, org_id: str, only: str | None = None) -> list[BundleSummary]:
    default = store.get_default(org_id)
    assignments = store.list_assignments(org_id)
    grouped: dict[str, list[BundleVersion]] = {}
    for record in store.list_bundle_versions(org_id, only):
        grouped.setdefault(record.name, []).append(record)
    return [
        BundleSummary(
            name=name,
            latestVersion=versions[-1].version,
            versions=[version_info(v) for v in versions],
            isDefault=default is not None and default.name == name,
            assignedTo=[a.deployment_id for a in assignments if a.name == name and a.deployment_id],
        )
        for name, versions in grouped.items()
    ]


# ------------------------------------------------------------------------------------ default
# Registered before the `{name:path}` routes so "default" is never taken for a bundle name.
@router.get("/api/bundles/default", response_model=DefaultResponse, responses=error_responses(*AUTH_ERRORS))
def get_default(request: Request, principal: User) -> DefaultResponse:
    return DefaultResponse(default=default_info(_platform(request).store, principal.org_id))


@router.put("/api/bundles/default", response_model=DefaultResponse, responses=error_responses(*AUTH_ERRORS, 404, 422))
def set_default(body: AssignmentRequest, request: Request, principal: User) -> DefaultResponse:
    """The org default bundle: what deployments without their own assignment run (`version` omitted = newest)."""
    platform = _platform(request)
    require_bundle(platform.store, principal.org_id, body.name, body.version)
    platform.store.set_default(principal.org_id, body.name, body.version)
    platform.events.publish(AssignmentChanged(principal.org_id, "set default"))
    return DefaultResponse(default=default_info(platform.store, principal.org_id))


@router.delete("/api/bundles/default", response_model=DefaultResponse, responses=error_responses(*AUTH_ERRORS))
def clear_default(request: Request, principal: User) -> DefaultResponse:
    platform = _platform(request)
    if platform.store.clear_default(principal.org_id):
        platform.events.publish(AssignmentChanged(principal.org_id, "clear default"))
    return DefaultResponse(default=None)


# ------------------------------------------------------------------------------------ upload
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "description": "the bundle archive (gzip'd tar, at most 52,428,800 bytes), streamed",
        "content": {"application/gzip": {"schema": {"type": "string", "format": "binary"}}},
    },
    "parameters": [
        {
            "name": "X-Bundle-Checksum",
            "in": "header",
            "required": True,
            "schema": {"type": "string", "pattern": _CHECKSUM_HEADER.pattern},
            "description": "the manifest checksum the archive must hold",
        }
    ],
}


@router.post(
    "/api/bundles/{name:path}/versions",
    response_model=BundleVersionInfo,
    status_code=201,
    responses={
        200: {"model": BundleVersionInfo, "description": "same checksum already uploaded: that version"},
        **error_responses(*AUTH_ERRORS, 413, 422),
    },
    openapi_extra=_UPLOAD_BODY,
)
async def upload_version(name: str, request: Request, response: Response, principal: User) -> BundleVersionInfo:
    """Streamed upload of a new version. Stops reading and answers 413 past 50 MB; never holds the body in memory."""
    platform = _platform(request)
    store: Store = platform.store
    if not BUNDLE_NAME_RE.match(name):
        raise ApiError(422, "invalid_bundle", f"Bundle name {name!r} is not valid (lowercase npm-style names only)")
    if name == RESERVED_NAME:
        raise ApiError(
            422,
            "invalid_bundle",
            "The bundle name 'default' is reserved (it names the org default); rename the bundle in edge.json",
        )
    expected = request.headers.get("x-bundle-checksum", "")
    if not _CHECKSUM_HEADER.match(expected):
        raise ApiError(
            422, "invalid_bundle", "The X-Bundle-Checksum header must be 'sha256:' and 64 lowercase hex digits"
        )
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_ARCHIVE_BYTES:
        raise _too_large(int(declared))

    incoming = store.new_incoming_path()
    archive_file = incoming.with_suffix(".tar.gz")
    try:
        await _receive(request, archive_file)
        manifest = await run_in_threadpool(_verify, archive_file, incoming)
        if manifest.checksum != expected:
            raise ApiError(
                422,
                "checksum_mismatch",
                f"Checksum mismatch: X-Bundle-Checksum says {expected}, the archive holds {manifest.checksum}",
            )
        if manifest.bundle != name:
            raise ApiError(
                422, "invalid_bundle", f"The archive holds bundle {manifest.bundle!r} but was uploaded as {name!r}"
            )
        record, created = await run_in_threadpool(store.add_bundle_version, principal.org_id, manifest, archive_file)
    finally:
        archive_file.unlink(missing_ok=True)
        shutil.rmtree(incoming, ignore_errors=True)
    if created:
        platform.events.publish(AssignmentChanged(principal.org_id, "upload"))
    else:
        response.status_code = 200
    return version_info(record)


async def _receive(request: Request, target: Path) -> None:
    """Copy the body to `target` chunk by chunk, refusing at the first byte past the limit."""
    received = 0
    with open(target, "wb") as out:
        async for chunk in request.stream():
            received += len(chunk)
            if received > MAX_ARCHIVE_BYTES:
                raise _too_large(received, more=True)
            out.write(chunk)


def _too_large(size: int, more: bool = False) -> ApiError:
    shown = f"more than {MAX_ARCHIVE_BYTES:,} bytes" if more else f"{size:,} bytes"
    error = ApiError(
        413,
        "bundle_too_large",
        f"Bundle archive is {shown}, over the limit of {MAX_ARCHIVE_BYTES:,} bytes (50 MB); "
        "reduce inlined dependencies or split the tools across bundles",
        limit=MAX_ARCHIVE_BYTES,
    )
    # The rest of the body is not read: tell the client this connection ends with the answer.
    error.headers = {"Connection": "close"}
    return error


def _verify(archive_file: Path, unpack_dir: Path) -> Manifest:
    """The shared reader checks every rule of SPEC.md §3.3; the unpacked copy is only a by-product."""
    try:
        return read_archive(archive_file, unpack_dir)
    except ArchiveTooLarge as exc:
        raise ApiError(413, "bundle_too_large", f"Bundle refused: {exc}", limit=MAX_ARCHIVE_BYTES) from None
    except ArchiveError as exc:
        raise ApiError(422, "invalid_bundle", f"Invalid bundle: {exc}") from None
    finally:
        shutil.rmtree(unpack_dir, ignore_errors=True)


# ------------------------------------------------------------------------------------ reads
class ArchiveResponse(FileResponse):
    """An archive in 1 MiB pieces: Starlette reads each piece in a worker thread, so its 64 KiB
    default costs 800 thread hops for a 50 MB bundle (a sync's download waits on every one)."""

    chunk_size = 1 << 20


@router.get(
    "/api/bundles/{name:path}/versions/{version}/archive",
    response_class=ArchiveResponse,
    responses={
        200: {"content": {"application/gzip": {}}, "description": "the archive"},
        **error_responses(*AUTH_ERRORS, 404),
    },
)
def download_archive(name: str, version: VersionNumber, request: Request, principal: AnyToken) -> ArchiveResponse:
    """The archive of one version; a deployment token may download the bundle assigned to it (how connectors sync)."""
    store: Store = _platform(request).store
    record = store.get_bundle_version(principal.org_id, name, version)
    if principal.is_deployment and record is not None:
        # A connector fetches only the bundle assigned to it (SPEC.md §9), any version of it: a swap
        # may still be downloading the previous one when the assignment moves on.
        resolved = store.resolve_bundle(principal.org_id, principal.deployment_id)
        record = record if resolved is not None and resolved.name == record.name else None
    if record is None:
        raise not_found("bundle", f"{name}@{version}")
    path = store.archive_file(record)
    if not path.exists():
        raise ApiError(500, "archive_missing", f"The archive of {name}@{version} is missing from the data directory")
    return ArchiveResponse(
        path,
        media_type="application/gzip",
        filename=f"{name.replace('/', '__')}-{version}.tar.gz",
        headers={"X-Bundle-Checksum": record.checksum},
    )


@router.get(
    "/api/bundles/{name:path}/versions/{version}",
    response_model=BundleVersionInfo,
    responses=error_responses(*AUTH_ERRORS, 404),
)
def get_version(name: str, version: VersionNumber, request: Request, principal: User) -> BundleVersionInfo:
    record = _platform(request).store.get_bundle_version(principal.org_id, name, version)
    if record is None:
        raise not_found("bundle", f"{name}@{version}")
    return version_info(record)


@router.get("/api/bundles", response_model=BundleList, responses=error_responses(*AUTH_ERRORS))
def list_bundles(request: Request, principal: User) -> BundleList:
    """Every bundle with its versions, the org default and the per-deployment assignments."""
    store = _platform(request).store
    return BundleList(
        bundles=bundle_summaries(store, principal.org_id),
        default=default_info(store, principal.org_id),
        assignments=assignment_infos(store, principal.org_id),
    )


@router.get("/api/bundles/{name:path}", response_model=BundleSummary, responses=error_responses(*AUTH_ERRORS, 404))
def get_bundle(name: str, request: Request, principal: User) -> BundleSummary:
    summaries = bundle_summaries(_platform(request).store, principal.org_id, only=name)
    if not summaries:
        raise not_found("bundle", name)
    return summaries[0]


# ------------------------------------------------------------------------------------ assignment poll
@router.get(
    "/api/connectors/assignment",
    response_model=AssignmentPoll,
    tags=["connectors"],
    responses=error_responses(*AUTH_ERRORS, 404),
)
def assignment_poll(
    request: Request,
    principal: AnyToken,
    deploymentId: Annotated[str | None, Query(description="omit: the org default")] = None,
) -> AssignmentPoll:
    """What a connector should run now (its periodic sync); a deployment token sees only its own deployment."""
    store: Store = _platform(request).store
    deployment_id = deploymentId or principal.deployment_id
    if principal.is_deployment and deployment_id != principal.deployment_id:
        raise not_found("deployment", deployment_id or "")
    if deployment_id:
        owned_deployment(store, principal, deployment_id)
    resolved = store.resolve_bundle(principal.org_id, deployment_id)
    return AssignmentPoll(assignedBundle=AssignedBundle(**resolved.to_wire()) if resolved else None)
