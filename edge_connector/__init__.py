"""edge-connector for tool authors' own code: `edge_connector.testing`, the pytest plugin (SPEC.md §15)."""
