#!/usr/bin/env python3
"""A three-model target of known capacity per model, not aurax-tool's simulator.

AURAX sends text, code and image generations to different models, each with its own slots
(Ollama's OLLAMA_NUM_PARALLEL) and a FIFO queue in front of them. This server does the same
in one asyncio process: a request for a model waits for one of that model's slots, in
arrival order, then holds it for the model's fixed service time (a sleep, so the event loop
serves the other models meanwhile). Past a model's capacity its queue grows; nothing is
refused. Capacity per model = slots / service time:

    text  8 slots x  40 ms = 200 req/s   (mistral:7b-instruct-q4_K_M)
    code  4 slots x  50 ms =  80 req/s   (qwen3:coder)
    image 1 slot  x 100 ms =  10 req/s   (stable-diffusion)

so a mix with 10% images binds at 10 / 0.10 = 100 req/s offered, by the image model.

It answers AURAX's shape: GET /health, GET /system/status, POST /route, POST /generate
(`success: true`, `response_type` and `metadata.model_used` by `routing_metadata.
preferred_model`), enough for aurax-tool's checks. Used by bench/mix-capacity.sh.

usage: three_models.py PORT [TEXT_SLOTS:MS CODE_SLOTS:MS IMAGE_SLOTS:MS]
       (prints "listening on http://127.0.0.1:PORT")
"""

import asyncio
import json
import sys

DEFAULT = ["8:40", "4:50", "1:100"]
TAGS = {
    "text": "mistral:7b-instruct-q4_K_M",
    "code": "qwen3:coder",
    "image": "stable-diffusion",
}


class Model:
    """Slots with a FIFO queue: asyncio.Semaphore wakes its waiters in arrival order."""

    def __init__(self, spec: str) -> None:
        slots, ms = spec.split(":")
        self.slots = int(slots)
        self.service_s = float(ms) / 1000.0
        self.free = asyncio.Semaphore(self.slots)

    async def generate(self) -> None:
        async with self.free:
            await asyncio.sleep(self.service_s)


MODELS: dict = {}


def kind_of(body: bytes) -> str:
    try:
        req = json.loads(body or b"{}")
    except ValueError:
        return "text"
    preferred = (req.get("routing_metadata") or {}).get("preferred_model")
    return {"code": "code", "image": "image"}.get(preferred, "text")


async def answer(method: str, path: str, body: bytes) -> dict:
    if path == "/health":
        return {"status": "healthy", "version": "0.1.0"}
    if path == "/system/status":
        return {"success": True, "components": {"models": "ok"}}
    if path == "/route":
        return {"success": True, "routing": {"model_type": "default"}}
    kind = kind_of(body)
    await MODELS[kind].generate()
    return {
        "success": True,
        "query": "",
        "context": [],
        "response": "ok",
        "response_type": kind,
        "metadata": {"model_used": TAGS[kind]},
        "routing_info": {},
        "error": None,
    }


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    # HTTP/1.1 without pipelining: one request at a time per connection.
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
            out = json.dumps(await answer(method, path.split("?", 1)[0], body)).encode()
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
    specs = sys.argv[2:5] if len(sys.argv) >= 5 else DEFAULT
    for kind, spec in zip(("text", "code", "image"), specs):
        MODELS[kind] = Model(spec)
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    for kind, m in MODELS.items():
        rate = m.slots / m.service_s
        print(f"{kind}: {m.slots} slot(s) x {m.service_s * 1000:.0f} ms = {rate:.1f} req/s", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
