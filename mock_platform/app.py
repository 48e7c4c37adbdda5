"""Composition root: builds the services of one platform and mounts every router."""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI

from .config import PlatformConfig


@dataclass
class Platform:
    """The services every route reaches through `request.app.state.platform`."""

    config: "PlatformConfig"
    store: "Store"
    tokens: "TokenService"
    events: "EventBus"
    hub: "Hub"


def create_app(config: PlatformConfig | None = None) -> FastAPI:
    from . import api_auth, api_bundles, api_deployments, hub, pages, sim, tool_calls
    from .auth import TokenService
    from .events import EventBus
    from .store import Store

    config = config or PlatformConfig()
    store = Store(config.data_dir)
    tokens = TokenService.for_config(config)
    events = EventBus()
    platform = Platform(config, store, tokens, events, hub.Hub(config, store, tokens, events))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await platform.hub.start()
        try:
            yield
        finally:
            await platform.hub.stop()
            store.close()

    app = FastAPI(title="edge-connector mock platform", version="0.1.0", lifespan=lifespan)
    app.state.platform = platform
    for module in (api_auth, api_deployments, api_bundles, tool_calls, sim, hub, pages):
        app.include_router(module.router)
    return app


if False:  # pragma: no cover - names for type checkers only
    from .auth import TokenService
    from .events import EventBus
    from .hub import Hub
    from .store import Store
