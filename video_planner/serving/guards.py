"""What stands between the network and the model: body limits for slow or huge uploads, per-client rate
limits, and a JSON access log. Pure ASGI and plain Python, so each works (and is tested) on its own."""

import asyncio
import json
import logging
import time
from collections import OrderedDict

access_logger = logging.getLogger("video_planner.serving.access")


async def send_json_error(send, status: int, message: str, headers: dict[str, str] | None = None) -> None:
    """A complete `{"error": message}` response, for guards that answer before the app runs."""
    body = json.dumps({"error": message}).encode()
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw_headers += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Receives a request's whole body before the app sees it: a body over `max_bytes` (declared or counted)
    gets 413, one not complete within `timeout_s` of the request's start gets 408 (a slow-loris client holds
    no worker). Memory per request is bounded by `max_bytes`."""

    def __init__(self, app, max_bytes: int, timeout_s: float):
        self.app, self.max_bytes, self.timeout_s = app, max_bytes, timeout_s

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            return await self.app(scope, receive, send)
        too_large = f"the body is over {self.max_bytes} bytes; send a smaller image"
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and not declared.isdigit():
            return await send_json_error(send, 400, "Content-Length is not a number")
        if declared is not None and int(declared) > self.max_bytes:
            return await send_json_error(send, 413, too_large)
        chunks, size = [], 0
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                return await send_json_error(send, 408, f"the body did not arrive within {self.timeout_s:g} s")
            if message["type"] == "http.disconnect":
                return None
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await send_json_error(send, 413, too_large)
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)


class AccessLog:
    """One JSON line per request on the `video_planner.serving.access` logger (client, method, path, status,
    milliseconds), and `on_response(path, status)` for metrics."""

    def __init__(self, app, on_response=None):
        self.app, self.on_response = app, on_response

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), 500

        async def observed_send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            client = scope.get("client") or ("?", 0)
            line = {
                "client": client[0],
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "ms": round(1000 * (time.perf_counter() - start), 1),
            }
            access_logger.info(json.dumps(line))
            if self.on_response is not None:
                self.on_response(scope["path"], status)


class RateLimiter:
    """A token bucket per client: `burst` requests at once, refilled at `per_minute`. It remembers the
    `max_clients` most recent clients, so memory stays bounded whoever calls."""

    def __init__(self, per_minute: float, burst: int, max_clients: int = 10_000):
        self.rate, self.burst, self.max_clients = per_minute / 60.0, burst, max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, when)

    def retry_after(self, client: str, now: float | None = None) -> float | None:
        """None when `client` may go ahead (one token spent), else the seconds until it may."""
        now = time.monotonic() if now is None else now
        tokens, then = self._buckets.pop(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[client] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return None if allowed else (1.0 - tokens) / self.rate
