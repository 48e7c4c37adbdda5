"""The WebSocket close codes of the connector link (SPEC §4): a module of their own, with no imports,
so that a CLI option's default (`sim disconnect --code`) costs `--help` nothing."""

CLOSE_NORMAL = 1000
CLOSE_ABNORMAL = 1006  # never sent: what a peer sees when the link dropped without a close frame
CLOSE_POLICY_VIOLATION = 1008  # the deployment was deleted
CLOSE_INTERNAL_ERROR = 1011  # also what websockets reports when keepalive pings go unanswered
CLOSE_PLATFORM_RESTART = 1012
CLOSE_PROTOCOL_ERROR = 4000
CLOSE_TOKEN_EXPIRED = 4001
CLOSE_REPLACED = 4009
