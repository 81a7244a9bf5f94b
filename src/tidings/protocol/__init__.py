"""The wire format of Tidings: every frame, op request, reply, event and view
as a typed model, and the one place that encodes a frame. No I/O: the
server, the Python SDK and the schema command (which the TypeScript SDK's
types come from) all import it."""
