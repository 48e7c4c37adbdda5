"""The platform's routes that both ends name (SPEC.md §5, §7, §11): one template each, built in one place.

Route declarations on the platform use the `*_TEMPLATE` strings; clients build concrete paths with the
functions, so a name is quoted the same way on both sides.
"""

from __future__ import annotations

from urllib.parse import quote

TOOL_RPC_PATH = "/tool-rpc"
OAUTH_TOKEN_PATH = "/oauth/token"
ASSIGNMENT_PATH = "/api/connectors/assignment"
ARCHIVE_TEMPLATE = "/api/bundles/{name:path}/versions/{version}/archive"
TOOL_CALL_TEMPLATE = "/api/tools/{tool}/call"
DEPLOYMENT_SECRETS_TEMPLATE = "/api/deployments/{deployment_id}/secrets"


def _segment(value: str, safe: str = "") -> str:
    return quote(value, safe=safe)


def archive_path(name: str, version: int) -> str:
    """`GET` here fetches a bundle version's archive; scoped names (`@team/tools`) keep their slash."""
    return f"/api/bundles/{_segment(name, '@/')}/versions/{int(version)}/archive"


def tool_call_path(tool: str) -> str:
    return f"/api/tools/{_segment(tool)}/call"


def deployment_secrets_path(deployment_id: str) -> str:
    return f"/api/deployments/{_segment(deployment_id)}/secrets"
