"""Tool secrets API (SPEC.md §11): put, list and delete by user token; values only to a deployment token.

No route returns a value to a user token: listings carry names, scopes and times. The one route that
returns values, `GET /api/deployments/{id}/secrets`, answers only that deployment's own token, which is
how a connector fetches them after each connect and on `secrets.updated`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import Field

from edge_protocol.sandbox import SECRET_NAME_RE

from . import log_redaction
from .api_deployments import owned_deployment
from .auth import Principal, current_principal, current_user
from .errors import ApiError
from .events import SecretsChanged
from .models import AUTH_ERRORS, _Model, error_responses
from .secrets_store import SecretInfo, SecretRefused, SecretStore, check_name

router = APIRouter(tags=["secrets"])
User = Annotated[Principal, Depends(current_user)]
AnyToken = Annotated[Principal, Depends(current_principal)]
#: The name as the OpenAPI document states it; the routes check it themselves, with their own codes
#: (422 `invalid_secret_name` on put, 404 `secret_not_found` on delete).
SecretName = Annotated[str, Path(json_schema_extra={"pattern": SECRET_NAME_RE.pattern})]
DeploymentQuery = Annotated[
    str | None, Query(alias="deploymentId", description="a deployment's scope; omit for the org's")
]


class SecretPutRequest(_Model):
    value: str = Field(description="the value (at most 65,536 bytes of UTF-8); never returned by any route to a user")
    deploymentId: str | None = Field(
        default=None, description="store it for this deployment only (overrides the org's)"
    )


class SecretInfoModel(_Model):
    name: str
    scope: str = Field(examples=["org"], description='"org" or "deployment"')
    deploymentId: str | None = None
    updatedAt: str


class SecretList(_Model):
    secrets: list[SecretInfoModel]


class DeploymentSecrets(_Model):
    secrets: dict[str, str] = Field(description="the deployment's effective secrets: the org's, overridden by its own")


def secret_store(request: Request) -> SecretStore:
    return request.app.state.platform.secrets


def _info(info: SecretInfo) -> SecretInfoModel:
    return SecretInfoModel(name=info.name, scope=info.scope, deploymentId=info.deployment_id, updatedAt=info.updated_at)


def _scope(request: Request, principal: Principal, deployment_id: str | None) -> str | None:
    if deployment_id is not None:
        owned_deployment(request.app.state.platform.store, principal, deployment_id)  # 404 deployment_not_found
    return deployment_id


def affected_deployments(
    secrets: SecretStore, deployment_ids: list[str], org_id: str, name: str, deployment_id: str | None
) -> list[str]:
    """Deployments whose effective value of `name` a change in this scope alters: the one deployment, or,
    for the org scope, every deployment without its own value of that name."""
    if deployment_id is not None:
        return [deployment_id]
    return [d for d in deployment_ids if not any(s.name == name for s in secrets.list_scope(org_id, d))]


def _announce(request: Request, org_id: str, name: str, deployment_id: str | None) -> None:
    platform = request.app.state.platform
    ids = [d.id for d in platform.store.list_deployments(org_id)] if deployment_id is None else []
    targets = affected_deployments(platform.secrets, ids, org_id, name, deployment_id)
    if targets:
        platform.events.publish(SecretsChanged(org_id, tuple(targets)))


@router.put("/api/secrets/{name}", response_model=SecretInfoModel, responses=error_responses(*AUTH_ERRORS, 404, 422))
def put_secret(name: SecretName, body: SecretPutRequest, request: Request, principal: User) -> SecretInfoModel:
    """Store a secret for the org or one deployment. Connected deployments whose effective secrets change
    are told at once (`secrets.updated`, without the value) and fetch them again."""
    scope = _scope(request, principal, body.deploymentId)
    try:
        info, changed = secret_store(request).put(principal.org_id, scope, name, body.value)
    except SecretRefused as refused:
        raise ApiError(422, refused.code, str(refused)) from None
    log_redaction.register_value(body.value)
    if changed:
        _announce(request, principal.org_id, name, scope)
    return _info(info)


@router.get("/api/secrets", response_model=SecretList, responses=error_responses(*AUTH_ERRORS, 404))
def list_secrets(request: Request, principal: User, deployment_id: DeploymentQuery = None) -> SecretList:
    """Names, scopes and times of one scope (the org's, or a deployment's own); never values."""
    scope = _scope(request, principal, deployment_id)
    return SecretList(secrets=[_info(i) for i in secret_store(request).list_scope(principal.org_id, scope)])


@router.delete(
    "/api/secrets/{name}", status_code=204, response_class=Response, responses=error_responses(*AUTH_ERRORS, 404)
)
def delete_secret(
    name: SecretName, request: Request, principal: User, deployment_id: DeploymentQuery = None
) -> Response:
    scope = _scope(request, principal, deployment_id)
    try:
        check_name(name)
    except SecretRefused:
        raise _secret_not_found(name, scope) from None
    # Who is affected is read before the delete: afterwards the org value no longer says who had it.
    platform = request.app.state.platform
    ids = [d.id for d in platform.store.list_deployments(principal.org_id)] if scope is None else []
    targets = affected_deployments(platform.secrets, ids, principal.org_id, name, scope)
    if not secret_store(request).delete(principal.org_id, scope, name):
        raise _secret_not_found(name, scope)
    if targets:
        platform.events.publish(SecretsChanged(principal.org_id, tuple(targets)))
    return Response(status_code=204)


def _secret_not_found(name: str, deployment_id: str | None) -> ApiError:
    where = f"deployment {deployment_id}" if deployment_id else "the organization"
    return ApiError(404, "secret_not_found", f"Secret {name!r} not found in {where}")


@router.get(
    "/api/deployments/{deployment_id}/secrets",
    response_model=DeploymentSecrets,
    responses=error_responses(*AUTH_ERRORS, 404),
)
def deployment_secrets(deployment_id: str, request: Request, principal: AnyToken) -> Any:
    """The deployment's effective secret values, for that deployment's own token only (its connector)."""
    if not principal.is_deployment:
        raise ApiError(
            403,
            "deployment_token_required",
            "Secret values are returned only to the deployment's own connector (a deployment token); "
            "list names with GET /api/secrets",
        )
    if principal.deployment_id != deployment_id:
        raise ApiError(403, "forbidden", "A deployment token may read only its own deployment's secrets")
    values = secret_store(request).effective(principal.org_id, deployment_id)
    for value in values.values():
        log_redaction.register_value(value)
    return DeploymentSecrets(secrets=values)
