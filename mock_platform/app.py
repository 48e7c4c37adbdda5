"""Composition root: builds the services of one platform and mounts every router."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI

from . import (
    api_auth,
    api_bundles,
    api_deployments,
    api_org,
    api_secrets,
    hub,
    log_redaction,
    mcp,
    openapi,
    pages,
    sim,
    tail,
    tool_calls,
)
from .auth import TokenService
from .config import PlatformConfig
from .errors import install_error_handlers
from .events import EventBus
from .host_guard import HostGuard
from .hub import Hub
from .models import HealthStatus
from .oauth_token import OAuthLimits, TokenFastPath
from .rate_limit import RateLimiter
from .secrets_store import SecretStore
from .store import Store
from .tail import TailService


@dataclass
class Platform:
    """The services every route reaches through `request.app.state.platform`."""

    config: PlatformConfig
    store: Store
    tokens: TokenService
    events: EventBus
    hub: Hub  # connected connectors, tool-call routing, bundle.updated pushes
    tail: TailService  # live tail streams (WS /api/tail) and their fan-out
    secrets: SecretStore  # tool secrets, encrypted at rest (SPEC.md §11)


def create_app(config: PlatformConfig | None = None) -> FastAPI:
    config = config or PlatformConfig()
    store = Store(config.data_dir)
    tokens = TokenService.for_config(config)
    events = EventBus()
    secrets = SecretStore.open(store)
    # The hub reports tool-set changes (`events.ToolSetChanged`) that `/mcp` turns into list_changed.
    connector_hub = Hub(config, store, tokens, events)
    platform = Platform(
        config,
        store,
        tokens,
        events,
        connector_hub,
        TailService(connector_hub.tail, connector_hub.tail_viewers_changed),
        secrets,
    )
    mcp_endpoint = mcp.McpEndpoint(platform.hub, app_version())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        store.ensure_open()
        events.attach_loop(asyncio.get_running_loop())
        log_redaction.install()
        for value in secrets.values():  # no stored value may reach a log line, from the first request on
            log_redaction.register_value(value)
        await platform.hub.start()
        try:
            async with mcp_endpoint.running():
                yield
        finally:
            await platform.tail.stop()
            await platform.hub.stop()
            store.close()

    app = FastAPI(
        title="edge-connector mock platform",
        version="0.1.0",
        description="Reference platform: JWT auth, deployments, bundle versions and assignments, connector hub.",
        lifespan=lifespan,
    )
    app.state.platform = platform
    app.state.mcp = mcp_endpoint  # for serve.py's McpFastPath
    app.state.oauth_limits = OAuthLimits(RateLimiter(*config.oauth_per_client), RateLimiter(*config.oauth_per_address))
    install_error_handlers(app)

    @app.get("/healthz", tags=["health"], response_model=HealthStatus)
    def healthz() -> HealthStatus:
        """Open. 200 while the platform serves requests."""
        return HealthStatus(status="ok")

    for module in (api_auth, api_org, api_deployments, api_bundles, api_secrets, tool_calls, sim, hub, tail, pages):
        app.include_router(module.router)
    # First in the route table: an MCP request is matched before the ~50 API routes are tried (routing
    # was ~10 % of the platform's CPU per /mcp call when it came last).
    app.router.routes[:0] = mcp.routes(mcp_endpoint)
    openapi.install(app)
    app.add_middleware(tool_calls.CallFastPath)  # the call path skips FastAPI's routing (see tool_calls)
    app.add_middleware(TokenFastPath)  # so does the usual `/oauth/token` (see oauth_token)
    app.add_middleware(HostGuard, config=config)  # outermost: dev mode's DNS-rebinding guard (SPEC.md §9)
    return app


def app_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("edge-connector")
    except PackageNotFoundError:
        return "0.0.0+unknown"
