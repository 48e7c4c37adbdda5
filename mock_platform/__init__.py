"""The reference platform: JWTs, bundles and deployments in SQLite, and the connector hub.

It plays the real platform for local development (`edge-connector dev`) and integration tests. It
never imports `edge_runtime`: the two meet only in `edge_protocol` and on the wire.
"""
