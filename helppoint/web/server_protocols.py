"""uvicorn's HTTP and WebSocket protocols, minus what a WebSocket keeps after its handshake.

A server holds one WebSocket per unit for as long as the unit is up: tens of thousands per
process. uvicorn's protocols keep two things per connection that are never used again once
the handshake is done (docs/performance.md, "Objects per link"):

- the HTTP protocol that read the upgrade request stays alive in a reference cycle with its
  parser (uvicorn breaks it in `connection_lost`, which an upgraded connection never calls on
  it): garbage that only a collection frees, and that freezing (helppoint/gcpauses.py) turns
  into a leak if it is frozen before it is collected;
- the WebSocket protocol keeps the handshake's request and response with their headers.

`helppoint serve`, the demo and the tests' servers use these (`HTTP_PROTOCOL`, `WS_PROTOCOL`).
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol that leaves no reference cycle behind an upgrade."""

    def handle_websocket_upgrade(self) -> None:
        super().handle_websocket_upgrade()
        # The WebSocket protocol has the transport now; this object is done. Its parser holds
        # it (a cycle), as until `connection_lost`, which now goes to the WebSocket protocol.
        self.parser = None  # type: ignore[assignment]
        self.scope = None  # type: ignore[assignment]
        self.headers = None  # type: ignore[assignment]


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol (websockets' Sans-I/O core) that forgets its handshake."""

    def start_keepalive(self) -> None:
        # Called once, right after the accepted handshake's response is sent: the request
        # and response (with their headers) were read only to get there.
        super().start_keepalive()
        self.request = None  # type: ignore[assignment]
        self.response = None  # type: ignore[assignment]


#: uvicorn.Config's `http` and `ws` for a helppoint server.
HTTP_PROTOCOL = "helppoint.web.server_protocols:HttpProtocol"
WS_PROTOCOL = "helppoint.web.server_protocols:WebSocketProtocol"
