"""Request and response bodies of the platform's publishing API (SPEC.md §5), for validation and /docs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from edge_protocol.close_codes import CLOSE_PLATFORM_RESTART

from .errors import MAX_JSON_INTEGER, json_integer


def _integer(value: Any) -> Any:
    """JSON Schema's integer: 5 and 5.0, never `true` or `"5"` (pydantic's lax mode takes those)."""
    number = json_integer(value)
    return value if number is None else number


AS_JSON_INTEGER = BeforeValidator(_integer)
#: Constraints go before AS_JSON_INTEGER (`Annotated[int, Field(ge=1), AS_JSON_INTEGER]`), else the
#: JSON schema shows them as pydantic's names instead of `minimum`/`maximum`.
JsonInt = Annotated[int, AS_JSON_INTEGER]


class _Model(BaseModel):
    # strict: JSON types as declared (no `false` for an integer, no `"1"` for a number).
    model_config = ConfigDict(populate_by_name=True, strict=True)


# ------------------------------------------------------------------------------------ errors
class ErrorDetail(_Model):
    code: str = Field(examples=["token_expired"])
    message: str = Field(examples=["Token has expired"])


class ErrorBody(_Model):
    error: ErrorDetail


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each refusal documented with the one error body shape."""
    return {status: {"model": ErrorBody} for status in statuses}


AUTH_ERRORS = (401, 403)


# ------------------------------------------------------------------------------------ auth
#: No `@`, whitespace or control character around the one `@`. The explicit ranges make the class the
#: same in every regex engine that reads it (pydantic's, and JSON Schema's ECMA-262 for API clients),
#: whose `\s` differ on U+0085, U+001C-U+001F and U+FEFF.
_EMAIL_PART = r"[^@\s\x00-\x1f\x7f-\x9f\ufeff]+"
EMAIL_PATTERN = rf"^{_EMAIL_PART}@{_EMAIL_PART}$"


class DevLoginRequest(_Model):
    email: str = Field(min_length=3, max_length=254, pattern=EMAIL_PATTERN)
    orgId: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class InviteRequest(_Model):
    email: str = Field(min_length=3, max_length=254, pattern=EMAIL_PATTERN)
    role: Literal["member", "owner"] = "member"


class InviteInfo(_Model):
    email: str
    role: str
    orgId: str


class MemberInfo(_Model):
    email: str
    role: str = Field(examples=["owner", "member"])


class MemberList(_Model):
    members: list[MemberInfo]
    invites: list[MemberInfo] = Field(default_factory=list, description="invited, not signed in yet")


class TokenResponse(_Model):
    token: str
    expiresAt: str


class DevTokenRequest(_Model):
    sub: str = Field(min_length=1)
    orgId: str | None = None
    orgs: dict[str, str] | None = None
    expiresIn: JsonInt = Field(
        default=3600,
        ge=-315_360_000,
        le=315_360_000,
        description="seconds (at most ten years either way); negative gives an already expired token",
    )
    deploymentId: str | None = None


class MeResponse(_Model):
    sub: str
    orgId: str
    orgs: dict[str, str]
    deploymentId: str | None = None
    expiresAt: str


class OAuthTokenResponse(_Model):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int


# ------------------------------------------------------------------------------------ deployments
#: How many connectors may hold one deployment at once (SPEC.md §14).
MIN_REPLICAS, MAX_REPLICAS = 1, 100
_REPLICAS_DOC = "connectors that may hold this deployment at once (1..100)"


class DeploymentCreateRequest(_Model):
    name: str = Field(min_length=1, max_length=100)
    replicas: JsonInt = Field(default=1, ge=MIN_REPLICAS, le=MAX_REPLICAS, description=_REPLICAS_DOC)


class DeploymentUpdateRequest(_Model):
    replicas: JsonInt = Field(ge=MIN_REPLICAS, le=MAX_REPLICAS, description=_REPLICAS_DOC)


class AssignmentInfo(_Model):
    name: str
    version: int | None = Field(description="null: tracks the newest version")


class BundleRef(_Model):
    name: str
    version: int
    checksum: str


class DeploymentInfo(_Model):
    deploymentId: str
    name: str
    createdAt: str
    secretRotatedAt: str | None = None
    replicas: int = Field(description=_REPLICAS_DOC)
    assignment: AssignmentInfo | None = Field(description="its own assignment (overrides the org default)")
    resolvedBundle: BundleRef | None = Field(description="what a connector of it runs now")


class DeploymentList(_Model):
    deployments: list[DeploymentInfo]


class DeploymentSecret(_Model):
    deploymentId: str
    name: str
    secret: str = Field(description="DEPLOYMENT_SECRET; shown only in this response")
    createdAt: str | None = None
    replicas: int = Field(default=1, description=_REPLICAS_DOC)


# ------------------------------------------------------------------------------------ bundles
class ToolInfo(_Model):
    name: str
    description: str = ""
    inputSchema: dict[str, Any]
    outputSchema: dict[str, Any] | None = None
    timeoutMs: int | None = None
    entry: str | None = None


class BundleVersionInfo(_Model):
    name: str
    version: int
    checksum: str
    size: int
    tools: list[ToolInfo]
    createdAt: str | None = None
    archiveUrl: str | None = None
    sandbox: dict[str, Any] = Field(
        default_factory=dict,
        description="what the bundle asks of the runtime "
        "(edge.json env, permissions, secrets, secretsInEnv); {} = the default sandbox",
    )


class AssignmentRequest(_Model):
    name: str = Field(min_length=1)
    version: Annotated[int, Field(ge=1, le=2**31 - 1), AS_JSON_INTEGER] | None = Field(
        default=None, description="omit to track the newest version"
    )


class DefaultInfo(_Model):
    name: str
    version: int | None
    resolvedVersion: int | None


class DeploymentAssignmentInfo(_Model):
    deploymentId: str
    deploymentName: str | None = None
    name: str
    version: int | None
    resolvedVersion: int | None


class BundleSummary(_Model):
    name: str
    latestVersion: int
    versions: list[BundleVersionInfo]
    isDefault: bool
    assignedTo: list[str] = Field(description="deployment ids assigned to this bundle")


class BundleList(_Model):
    bundles: list[BundleSummary]
    default: DefaultInfo | None
    assignments: list[DeploymentAssignmentInfo]


class DefaultResponse(_Model):
    default: DefaultInfo | None


class DeploymentAssignmentResponse(_Model):
    deploymentId: str
    assignment: AssignmentInfo | None
    resolvedBundle: BundleRef | None


class AssignedBundle(_Model):
    name: str
    version: int
    checksum: str
    size: int
    archiveUrl: str
    tools: list[str] | None = None  # the tool names recorded for this version; the runtime checks the manifest


class AssignmentPoll(_Model):
    assignedBundle: AssignedBundle | None


# ------------------------------------------------------------------------------------ health
class HealthStatus(_Model):
    status: str = Field(examples=["ok"])


# ------------------------------------------------------------------------------------ hub routes
# The shapes of the hub's routes (tool_calls.py, sim.py, hub.py) in the OpenAPI document. Those routes
# parse and build their JSON by hand (the call path is hot; their refusals are the platform's own
# one-line errors), so these models are never run: they are what /docs and /openapi.json promise.
class ToolCallRequest(_Model):
    arguments: Any = Field(default_factory=dict, description="the tool's input, checked against its inputSchema")
    deploymentId: str | None = Field(
        default=None, min_length=1, description="omit: the least busy connector that has the tool"
    )
    timeoutMs: Annotated[int, Field(gt=0, le=MAX_JSON_INTEGER), AS_JSON_INTEGER] | None = None


class ToolCallResult(_Model):
    output: Any
    durationMs: float | None = Field(description="the connector's time running the tool")
    deploymentId: str | None
    callId: str


class ToolCallErrorDetail(_Model):
    code: str = Field(
        examples=["tool_error"],
        description="tool_not_found, invalid_arguments, tool_error, "
        "tool_timeout, tool_crashed, overloaded or connector_unavailable",
    )
    message: str
    details: Any = None
    toolCode: str | None = Field(default=None, description="the tool's own ToolError code")


class ToolCallErrorBody(_Model):
    error: ToolCallErrorDetail


def tool_call_error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` of the tool call route: its refusals carry the tool error detail."""
    return {status: {"model": ToolCallErrorBody} for status in statuses}


class RecentCall(_Model):
    callId: str
    tool: str
    deploymentId: str | None
    at: str
    durationMs: float
    outcome: str = Field(examples=["ok", "error"])
    errorCode: str | None


class RecentCalls(_Model):
    calls: list[RecentCall]


class ConnectorInfo(_Model):
    connectorId: str
    deploymentId: str | None
    since: str
    connectorVersion: str | None = None
    bundle: dict[str, Any] | None = None
    tools: list[str]
    inFlight: int
    concurrency: int
    callsTotal: int
    logsSubscribed: bool = Field(default=False, description="someone tails this connector: it forwards tool logs")
    logLinesReceived: int = Field(default=0, description="tool console lines it forwarded (tools.log)")


class ConnectorList(_Model):
    connectors: list[ConnectorInfo]


class SimDisconnectRequest(_Model):
    deploymentId: str | None = Field(default=None, description="omit: every connector of the organization")
    code: JsonInt = Field(
        default=CLOSE_PLATFORM_RESTART,
        description="WebSocket close code (1000-1014 or 3000-4999)",
        json_schema_extra={"anyOf": [{"minimum": 1000, "maximum": 1014}, {"minimum": 3000, "maximum": 4999}]},
    )
    tails: bool = Field(default=False, description="close the organization's tail streams instead of connectors")


class SimDisconnectResult(_Model):
    disconnected: int


class SimRejectRequest(_Model):
    count: Annotated[int, Field(ge=0, le=MAX_JSON_INTEGER), AS_JSON_INTEGER]


class SimRejectResult(_Model):
    rejectNext: int


class SimLatencyRequest(_Model):
    ms: float = Field(ge=0)


class SimLatencyResult(_Model):
    latencyMs: float


class SimPushesRequest(_Model):
    enabled: bool


class SimPushesResult(_Model):
    pushesEnabled: bool


def documented_body(model: type[BaseModel], required: bool = True) -> dict[str, Any]:
    """`openapi_extra=` for a route that parses its JSON body by hand: /docs still shows `model`.

    `required=False` for a route that reads an empty body as `{}` (every field optional)."""
    return {
        "requestBody": {"required": required, "content": {"application/json": {"schema": model.model_json_schema()}}}
    }
