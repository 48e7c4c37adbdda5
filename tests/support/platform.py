"""A real mock platform process on 127.0.0.1: the one `edge_connector.testing` starts for users."""

from edge_connector.testing.platform import PlatformProcess

__all__ = ["PlatformProcess"]
