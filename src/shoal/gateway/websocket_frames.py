"""The WebSocket protocol Shoal's server speaks: uvicorn's, on the ``websockets`` library's
sans-I/O implementation, with API Gateway's frame quota.

API Gateway's WebSocket quotas ("Amazon API Gateway quotas for configuring and running a
WebSocket API"): a message is at most 128 KB, and "due to the WebSocket frame-size quota of
32 KB, a message larger than 32 KB must be split into multiple frames, each 32 KB or smaller".
The message quota is the library's ``max_size`` (the server's ``ws_max_size``: a bigger
message closes the connection with 1009, message too big); the frame quota is this subclass's:
a frame whose payload is over 32 KB closes the connection with 1009 too. Framing, masking,
fragment reassembly, ping/pong and the closing handshake stay the library's.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from shoal.gateway.connections import MAX_MESSAGE

MAX_FRAME = 32 * 1024
PROTOCOL_PATH = "shoal.gateway.websocket_frames:GatewayWebSocketProtocol"
MAX_MESSAGE_SIZE = MAX_MESSAGE  # the server's ws_max_size


class GatewayWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, refusing frames over :data:`MAX_FRAME`."""

    def _frame_too_big(self, event: Any) -> bool:
        if len(event.data) <= MAX_FRAME:
            return False
        self.frames = []
        self.conn.send_close(1009, "Frame size exceeds the 32 KB quota")
        self.handle_parser_exception()  # tells the app (websocket.disconnect) and closes
        return True

    def handle_text(self, event: Any) -> None:
        if not self._frame_too_big(event):
            super().handle_text(event)

    def handle_bytes(self, event: Any) -> None:
        if not self._frame_too_big(event):
            super().handle_bytes(event)

    def handle_cont(self, event: Any) -> None:
        if not self._frame_too_big(event):
            super().handle_cont(event)
