"""Warnings about required secrets that are not set (SPEC.md §11), printed when a bundle is assigned.

`upload --set-default/--deployment`, `bundle set-default` and `bundle assign` call `warn_missing` after
the assignment: it reads the version's `secrets.required` and the secret names of the scope(s) that
will serve it, and names each missing one with the command that sets it.
"""

from __future__ import annotations

from typing import Any

from edge_protocol.sandbox import SandboxError, SandboxRequest, missing_secret_hint, missing_secrets

from .client import PlatformClient
from .console import err


def required_secrets(client: PlatformClient, name: str, version: int | None) -> list[str]:
    data = client.get(f"/api/bundles/{name}")
    versions = data.get("versions", [])
    chosen = (
        next((v for v in versions if v["version"] == version), None)
        if version
        else (versions[-1] if versions else None)
    )
    try:
        return list(SandboxRequest.from_wire((chosen or {}).get("sandbox")).secrets_required)
    except SandboxError:
        return []


def missing_for(client: PlatformClient, required: list[str], deployment_id: str | None) -> list[str]:
    """Required names set neither for the org nor (when given) for that deployment."""
    if not required:
        return []
    names = {s["name"] for s in client.get("/api/secrets")["secrets"]}
    if deployment_id:
        names |= {s["name"] for s in client.get("/api/secrets", deploymentId=deployment_id)["secrets"]}
    return missing_secrets(SandboxRequest(secrets_required=tuple(required)), names)


def warn_missing(client: PlatformClient, name: str, version: int | None, deployment_id: str | None) -> list[str]:
    """Print one warning per missing required secret; returns the missing names (for `--json` output)."""
    missing = missing_for(client, required_secrets(client, name, version), deployment_id)
    flag = f" --deployment {deployment_id}" if deployment_id else ""
    for secret in missing:
        err.print(
            f"Warning: {name} requires secret {secret}, which is not set"
            f"{' for deployment ' + deployment_id if deployment_id else ' for the organization'}; "
            f"its calls fail with missing_secret until you run: {missing_secret_hint(secret)}{flag}",
            markup=False,
        )
    return missing


def with_missing(data: dict[str, Any], missing: list[str]) -> dict[str, Any]:
    return {**data, "missingSecrets": missing} if missing else data
