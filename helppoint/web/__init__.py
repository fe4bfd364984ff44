"""The ASGI app: operator console, REST API and the device link endpoint."""
