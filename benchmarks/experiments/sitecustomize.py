"""Measure a proposed optimisation before anyone rewrites product code for it.

Not part of the product and never imported by it. Put this folder first on PYTHONPATH and name
the patches in EC_BENCH_EXPERIMENT (comma-separated); every Python process the benchmark starts
(platform, runtime) inherits both and applies them at start-up:

    EC_BENCH_EXPERIMENT=fastpath PYTHONPATH=benchmarks/experiments \\
        .venv/bin/python -m benchmarks.call_path --skip-reference

Patches (see docs/performance.md for what each gained):
  fastpath  platform: answer `POST /api/tools/{tool}/call` in a plain ASGI front, before FastAPI's
            middleware stack, routing and dependency solving (same auth, same hub call, same bodies)
  uvloop    platform and runtime: run asyncio on uvloop
  httptools platform: uvicorn picks httptools instead of h11 (it does so by itself once importable)
  nojwt     runtime: read token claims with base64 + json instead of importing PyJWT (+ cryptography)

uvloop and httptools must be importable: install them into the venv, or `pip install --target DIR
uvloop httptools` and set EC_BENCH_EXTRA_PATH=DIR to keep the venv unchanged.
"""

import os
import sys

_EXPERIMENTS = set(filter(None, os.environ.get("EC_BENCH_EXPERIMENT", "").split(",")))
_EXTRA = os.environ.get("EC_BENCH_EXTRA_PATH")
if _EXPERIMENTS and _EXTRA:
    sys.path.append(_EXTRA)


def _after_import(module_name, patch):
    """Run `patch(module)` right after `module_name` is first imported."""
    import importlib.abc
    import importlib.machinery

    class _Hook(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name != module_name:
                return None
            sys.meta_path.remove(self)
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            original = spec.loader.exec_module

            def exec_module(module):
                original(module)
                patch(module)

            spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, _Hook())


if "uvloop" in _EXPERIMENTS:
    import asyncio

    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

if "httptools" in _EXPERIMENTS:
    import httptools  # noqa: F401  (fails loudly here if it is missing; uvicorn's "auto" then picks it)


def _is_runtime() -> bool:
    argv = getattr(sys, "orig_argv", [])
    return "start" in argv and any("edge_cli" in a or a.endswith("edge-connector") for a in argv)


if "nojwt" in _EXPERIMENTS and _is_runtime():  # the platform signs tokens: it keeps PyJWT
    import base64
    import json
    import types

    _jwt = types.ModuleType("jwt")

    class PyJWTError(Exception):
        pass

    def _decode(token, *args, **kwargs):
        try:
            payload = token.split(".")[1]
            return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except Exception as exc:
            raise PyJWTError(str(exc)) from None

    _jwt.PyJWTError, _jwt.decode = PyJWTError, _decode
    sys.modules["jwt"] = _jwt


if "fastpath" in _EXPERIMENTS:
    def _patch_app(module):
        create_app = module.create_app

        def create_app_with_fast_calls(config=None):
            app = create_app(config)
            import orjson

            from mock_platform import tool_calls
            from mock_platform.errors import ApiError
            from mock_platform.hub import CallFailed

            platform = app.state.platform

            async def respond(send, status, payload):
                body = orjson.dumps(payload)
                await send({"type": "http.response.start", "status": status,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})

            async def fast_call(tool, scope, receive, send):
                chunks = []
                while True:
                    message = await receive()
                    chunks.append(message.get("body", b""))
                    if not message.get("more_body"):
                        break
                token = None
                for key, value in scope["headers"]:
                    if key == b"authorization":
                        scheme, _, rest = value.decode("latin-1").partition(" ")
                        token = rest.strip() if scheme.lower() == "bearer" else None
                try:
                    claims = platform.tokens.verify(token)
                    if claims.deployment_id is not None and platform.store.get_deployment(
                            claims.org_id, claims.deployment_id) is None:
                        raise ApiError(401, "token_invalid", "the deployment of this token no longer exists")
                    arguments, deployment_id, timeout_ms = tool_calls._call_request(b"".join(chunks))
                    result = await platform.hub.call_tool(claims.org_id, tool, arguments, deployment_id, timeout_ms)
                except (CallFailed, ApiError) as failed:
                    return await respond(send, failed.status, failed.body())
                await respond(send, 200, result)

            async def asgi(scope, receive, send):
                if scope["type"] == "http" and scope["method"] == "POST":
                    path = scope["path"]
                    if path.startswith("/api/tools/") and path.endswith("/call"):
                        tool = path[len("/api/tools/"):-len("/call")]
                        if tool and "/" not in tool:
                            return await fast_call(tool, scope, receive, send)
                return await app(scope, receive, send)

            asgi.state = app.state
            return asgi

        module.create_app = create_app_with_fast_calls

    _after_import("mock_platform.app", _patch_app)
