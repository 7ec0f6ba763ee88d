"""A scripted HTTP server for streamed generations: it answers each request with events at
set times after the request arrived, so a client's TTFT, ITL and TPOT have a known truth.

Raw asyncio on 127.0.0.1 in a process of its own (a thread would share the client's GIL,
whose 5 ms switch interval delays both sides), so a script can do what no real engine
does on demand: several tokens per chunk, role-only and usage-only chunks, ``: ping``
comments, an error mid-stream, HTTP 429 or 500, a stream that hangs, a body that is not an
event stream.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Reply:
    """What the server sends for one request: a status, a content type, and raw pieces of
    the body, each at its time (seconds after the request arrived)."""

    steps: list[tuple[float, bytes]]
    status: str = "200 OK"
    content_type: str = "text/event-stream"
    hang_s: float = 0.0
    """Keep the connection open this long after the last step (a stream that stalls)."""


def event(payload: Any) -> bytes:
    """One server-sent event carrying ``payload`` as JSON (or ``[DONE]`` as given)."""
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return f"data: {data}\n\n".encode()


def completion_chunk(tokens: list[str]) -> dict[str, Any]:
    """A ``/v1/completions`` chunk carrying ``tokens``, listed in its logprobs."""
    return {"object": "text_completion", "choices": [
        {"index": 0, "text": "".join(tokens), "logprobs": {"tokens": tokens},
         "finish_reason": None}]}


def models(*names: str) -> Reply:
    """``GET /v1/models`` listing ``names``, as the OpenAI API lists them."""
    body = json.dumps({"object": "list", "data": [{"id": n, "object": "model"} for n in names]})
    return Reply([(0.0, body.encode())], content_type="application/json")


def steady(ttft_s: float, every_s: float, chunks: int, per_chunk: int) -> Reply:
    """One token at ``ttft_s``, then ``chunks`` chunks of ``per_chunk`` tokens every
    ``every_s`` (times from the request's arrival, not from the previous write: no drift)."""
    steps = [(ttft_s, event(completion_chunk(["t0"])))]
    steps += [(ttft_s + (i + 1) * every_s,
               event(completion_chunk([f"t{i}.{j}" for j in range(per_chunk)])))
              for i in range(chunks)]
    steps.append((ttft_s + chunks * every_s, event("[DONE]")))
    return Reply(steps)


class ScriptedServer:
    """Serves ``script(request_json) -> Reply`` on 127.0.0.1 until ``close``, from a forked
    process (the script need not be picklable); ``requests`` are the JSON bodies it got."""

    def __init__(self, script: Callable[[dict[str, Any]], Reply]) -> None:
        ctx = multiprocessing.get_context("fork")
        self._requests: Any = ctx.Queue()
        self._seen: list[dict[str, Any]] = []
        ours, theirs = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(script, theirs, self._requests),
                                    daemon=True)
        self._process.start()
        if not ours.poll(10):
            raise RuntimeError("the scripted server did not start")
        self.port: int = ours.recv()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[dict[str, Any]]:
        while not self._requests.empty():
            self._seen.append(self._requests.get())
        return self._seen

    def close(self) -> None:
        """Stop the server's process."""
        self._process.terminate()
        self._process.join(5)


def _header(head: bytes, name: bytes) -> str | None:
    """One request header's value, or None."""
    for line in head.split(b"\r\n")[1:]:
        key, sep, value = line.partition(b":")
        if sep and key.strip().lower() == name:
            return value.strip().decode()
    return None


def _serve(script: Callable[[dict[str, Any]], Reply], port_to: Any, requests: Any) -> None:
    loop = asyncio.new_event_loop()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Requests on one kept-alive connection, each answered with a chunked body."""
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                t0 = loop.time()
                length = re.search(rb"content-length:\s*(\d+)", head, re.IGNORECASE)
                body = await reader.readexactly(int(length.group(1))) if length else b""
                method, path = head.split(b" ", 2)[:2]
                # perf_counter is CLOCK_MONOTONIC, one clock for every process on Linux: the
                # client can tell how long its request took to get here.
                request = {**json.loads(body or b"{}"), "_method": method.decode(),
                           "_path": path.decode(), "_received_at": time.perf_counter(),
                           "_authorization": _header(head, b"authorization")}
                requests.put(request)
                reply = script(request)
                writer.write(f"HTTP/1.1 {reply.status}\r\nContent-Type: {reply.content_type}"
                             "\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
                await writer.drain()
                for at, data in reply.steps:
                    await asyncio.sleep(max(0.0, t0 + at - loop.time()))
                    writer.write(b"%x\r\n%s\r\n" % (len(data), data))
                    await writer.drain()
                if reply.hang_s:
                    await asyncio.sleep(reply.hang_s)
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0))
    port_to.send(server.sockets[0].getsockname()[1])
    loop.run_forever()
