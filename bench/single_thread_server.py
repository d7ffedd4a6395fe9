#!/usr/bin/env python3
"""A target of known capacity: one thread, a fixed service time per request, a queue.

An asyncio HTTP/1.1 server (keep-alive, any number of connections) whose handler *blocks*
its one thread for SERVICE_MS per request, as a sync call inside one uvicorn worker does: so
requests are served one at a time and the rest wait in the event loop, queueing instead of
failing. Capacity is 1 / (service time + the server's own overhead) requests per second,
measured by a peer (wrk) in bench/known-capacity.sh.

It answers AURAX's shape: GET /health, POST /generate (`success: true`, `response_type`
from `routing_metadata.preferred_model`), enough for aurax-tool's checks.

usage: single_thread_server.py PORT [SERVICE_MS]   (prints "listening on http://127.0.0.1:PORT")
"""

import asyncio
import json
import sys
import time

SERVICE_S = (float(sys.argv[2]) if len(sys.argv) > 2 else 10.0) / 1000.0


def answer(method: str, path: str, body: bytes) -> bytes:
    if path == "/health":
        return json.dumps({"status": "healthy", "version": "0.1.0"}).encode()
    time.sleep(SERVICE_S)  # blocks the one thread: the next request waits
    kind = "text"
    try:
        req = json.loads(body or b"{}")
        preferred = (req.get("routing_metadata") or {}).get("preferred_model")
        kind = {"code": "code", "image": "image"}.get(preferred, "text")
    except ValueError:
        pass
    return json.dumps(
        {
            "success": True,
            "query": "",
            "context": [],
            "response": "ok",
            "response_type": kind,
            "metadata": {"model_used": "stand-in"},
            "routing": {"model_type": "default"},
            "components": {},
            "error": None,
        }
    ).encode()


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            length = 0
            for line in lines[1:]:
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            body = await reader.readexactly(length) if length else b""
            out = answer(method, path.split("?", 1)[0], body)
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
                + str(len(out)).encode()
                + b"\r\n\r\n"
                + out
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def main() -> None:
    port = int(sys.argv[1])
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
