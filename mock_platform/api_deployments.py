"""Deployments (connector identities) and their own bundle assignment."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from .auth import Principal, current_user
from .errors import ApiError, not_found
from .events import AssignmentChanged, DeploymentDeleted
from .models import (
    AUTH_ERRORS,
    AssignmentInfo,
    AssignmentRequest,
    BundleRef,
    DeploymentAssignmentResponse,
    DeploymentCreateRequest,
    DeploymentInfo,
    DeploymentList,
    DeploymentSecret,
    DeploymentUpdateRequest,
    error_responses,
)
from .store import Deployment, Store

router = APIRouter(tags=["deployments"])
User = Annotated[Principal, Depends(current_user)]


def _platform(request: Request):
    return request.app.state.platform


def resolved_ref(store: Store, org_id: str, deployment_id: str | None) -> BundleRef | None:
    resolved = store.resolve_bundle(org_id, deployment_id)
    return BundleRef(name=resolved.name, version=resolved.version, checksum=resolved.checksum) if resolved else None


def deployment_info(store: Store, deployment: Deployment) -> DeploymentInfo:
    assignment = store.get_assignment(deployment.org_id, deployment.id)
    return DeploymentInfo(
        deploymentId=deployment.id,
        name=deployment.name,
        createdAt=deployment.created_at,
        secretRotatedAt=deployment.secret_rotated_at,
        replicas=deployment.replicas,
        assignment=AssignmentInfo(name=assignment.name, version=assignment.version) if assignment else None,
        resolvedBundle=resolved_ref(store, deployment.org_id, deployment.id),
    )


def owned_deployment(store: Store, principal: Principal, deployment_id: str) -> Deployment:
    """The caller's org's deployment, or 404 (also for another org's: its existence is not revealed)."""
    deployment = store.get_deployment(principal.org_id, deployment_id)
    if deployment is None:
        raise not_found("deployment", deployment_id)
    return deployment


@router.post(
    "/api/deployments", response_model=DeploymentSecret, status_code=201, responses=error_responses(*AUTH_ERRORS, 422)
)
def create_deployment(body: DeploymentCreateRequest, request: Request, principal: User) -> DeploymentSecret:
    """A new deployment; its `secret` (DEPLOYMENT_SECRET) is stored hashed and returned only here."""
    deployment, secret = _platform(request).store.create_deployment(principal.org_id, body.name, body.replicas)
    return DeploymentSecret(
        deploymentId=deployment.id,
        name=deployment.name,
        secret=secret,
        createdAt=deployment.created_at,
        replicas=deployment.replicas,
    )


@router.get("/api/deployments", response_model=DeploymentList, responses=error_responses(*AUTH_ERRORS))
def list_deployments(request: Request, principal: User) -> DeploymentList:
    store = _platform(request).store
    return DeploymentList(deployments=[deployment_info(store, d) for d in store.list_deployments(principal.org_id)])


@router.get(
    "/api/deployments/{deployment_id}", response_model=DeploymentInfo, responses=error_responses(*AUTH_ERRORS, 404)
)
def get_deployment(deployment_id: str, request: Request, principal: User) -> DeploymentInfo:
    store = _platform(request).store
    return deployment_info(store, owned_deployment(store, principal, deployment_id))


@router.patch(
    "/api/deployments/{deployment_id}", response_model=DeploymentInfo, responses=error_responses(*AUTH_ERRORS, 404, 422)
)
def update_deployment(
    deployment_id: str, body: DeploymentUpdateRequest, request: Request, principal: User
) -> DeploymentInfo:
    """Change `replicas`, how many connectors may hold the deployment at once (SPEC.md §14). Connectors
    already connected stay; a lower number only refuses newcomers until fewer are connected."""
    store = _platform(request).store
    owned_deployment(store, principal, deployment_id)
    updated = store.set_replicas(principal.org_id, deployment_id, body.replicas)
    if updated is None:  # deleted meanwhile
        raise not_found("deployment", deployment_id)
    return deployment_info(store, updated)


@router.delete(
    "/api/deployments/{deployment_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(*AUTH_ERRORS, 404),
)
def delete_deployment(deployment_id: str, request: Request, principal: User) -> Response:
    """Deletes the deployment and its assignment; its tokens stop working and its connector is dropped."""
    platform = _platform(request)
    if not platform.store.delete_deployment(principal.org_id, deployment_id):
        raise not_found("deployment", deployment_id)
    platform.secrets.delete_deployment(principal.org_id, deployment_id)
    platform.events.publish(DeploymentDeleted(principal.org_id, deployment_id))
    platform.events.publish(AssignmentChanged(principal.org_id, "deployment deleted"))
    return Response(status_code=204)


@router.post(
    "/api/deployments/{deployment_id}/rotate-secret",
    response_model=DeploymentSecret,
    responses=error_responses(*AUTH_ERRORS, 404),
)
def rotate_secret(deployment_id: str, request: Request, principal: User) -> DeploymentSecret:
    """A new secret; the old one stops working at once (tokens already issued live until they expire)."""
    store = _platform(request).store
    deployment = owned_deployment(store, principal, deployment_id)
    secret = store.rotate_secret(principal.org_id, deployment_id)
    if secret is None:  # deleted between the two statements
        raise not_found("deployment", deployment_id)
    return DeploymentSecret(
        deploymentId=deployment.id, name=deployment.name, secret=secret, createdAt=deployment.created_at
    )


@router.put(
    "/api/deployments/{deployment_id}/bundle",
    response_model=DeploymentAssignmentResponse,
    responses=error_responses(*AUTH_ERRORS, 404, 422),
)
def assign_bundle(
    deployment_id: str, body: AssignmentRequest, request: Request, principal: User
) -> DeploymentAssignmentResponse:
    """Assign `name` (`version` omitted = track the newest) to this deployment, overriding the org default."""
    platform = _platform(request)
    store = platform.store
    owned_deployment(store, principal, deployment_id)
    require_bundle(store, principal.org_id, body.name, body.version)
    store.assign(principal.org_id, deployment_id, body.name, body.version)
    platform.events.publish(AssignmentChanged(principal.org_id, "assign"))
    return DeploymentAssignmentResponse(
        deploymentId=deployment_id,
        assignment=AssignmentInfo(name=body.name, version=body.version),
        resolvedBundle=resolved_ref(store, principal.org_id, deployment_id),
    )


@router.delete(
    "/api/deployments/{deployment_id}/bundle",
    response_model=DeploymentAssignmentResponse,
    responses=error_responses(*AUTH_ERRORS, 404),
)
def unassign_bundle(deployment_id: str, request: Request, principal: User) -> DeploymentAssignmentResponse:
    """Remove the deployment's own assignment: it falls back to the org default."""
    platform = _platform(request)
    store = platform.store
    owned_deployment(store, principal, deployment_id)
    if store.unassign(principal.org_id, deployment_id):
        platform.events.publish(AssignmentChanged(principal.org_id, "unassign"))
    return DeploymentAssignmentResponse(
        deploymentId=deployment_id,
        assignment=None,
        resolvedBundle=resolved_ref(store, principal.org_id, deployment_id),
    )


def require_bundle(store: Store, org_id: str, name: str, version: int | None) -> None:
    if store.get_bundle_version(org_id, name, version) is None:
        what = f"{name}@{version}" if version is not None else name
        raise ApiError(404, "bundle_not_found", f"Bundle {what!r} not found; upload it first (edge-connector upload)")
