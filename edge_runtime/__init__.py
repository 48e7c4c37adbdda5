"""The connector runtime: settings, lock, auth, session (websocket), sync, executor, health, logs."""
