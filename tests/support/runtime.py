"""A real `edge-connector start` subprocess: the one `edge_connector.testing` starts for users."""

from edge_connector.testing.runtime import FAST_ENV, RuntimeProcess, write_token_file

__all__ = ["FAST_ENV", "RuntimeProcess", "write_token_file"]
