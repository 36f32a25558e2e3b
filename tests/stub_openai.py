"""A tiny OpenAI-compatible HTTP server on 127.0.0.1 for the fault tests, run in a thread.

It answers ``GET /v1/models``, ``POST /v1/completions`` and ``POST /v1/chat/completions`` with a
deterministic reply that depends only on the prompt (so an interrupted and an uninterrupted sweep
get the same answers), and logs every completion call. Its ``mode`` decides how it misbehaves:

- ``ok``: answers;
- ``hang``: accepts the connection, reads the request and never answers (until ``close``, at most
  ``HANG_LIMIT_S``);
- ``die``: accepts, reads the request and closes the connection without a reply;
- ``error``: answers 500.

``delay`` (seconds, default 0) is slept before each completion reply, so a client can leave while
a call is in flight. ``hold_at(n)`` makes the n-th completion call (1-based) wait until ``release()`` after setting
``held``, so a test can act (kill the client, fill the disk) while a call is in flight. It is a
test double for fault injection, not a model: loopback only, bounded waits.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HANG_LIMIT_S = 60.0


def reply_for(prompt: str) -> str:
    """The stub's answer to a prompt: a fixed function of its text."""
    digest = hashlib.sha256(prompt.encode()).digest()
    return ("Paris", "the answer", "Lyon")[digest[0] % 3]


class StubServer:
    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.delay = 0.0
        self.calls: list[str] = []  # sha256[:16] of each completion call's prompt, in order
        self.requests = 0  # every HTTP request, /v1/models included
        self.held = threading.Event()
        self._release = threading.Event()
        self._closing = threading.Event()
        self._hold_at: int | None = None
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802
                stub._count()
                if not stub._misbehave(self):
                    self._json(200, {"object": "list", "data": [{"id": "stub", "object": "model"}]})

            def do_POST(self) -> None:  # noqa: N802
                stub._count()
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if stub._misbehave(self):
                    return
                if "messages" in body:
                    prompt = "\n".join(m.get("content") or "" for m in body["messages"])
                else:
                    prompt = body.get("prompt") or ""
                n = stub._log_call(prompt)
                stub._maybe_hold(n)
                if stub.delay:
                    time.sleep(stub.delay)
                text = reply_for(prompt)
                usage = {"prompt_tokens": len(prompt.split()),
                         "completion_tokens": len(text.split())}
                if "messages" in body:
                    choice = {"index": 0, "message": {"role": "assistant", "content": text},
                              "finish_reason": "stop"}
                else:
                    choice = {"index": 0, "text": text, "finish_reason": "stop"}
                    if body.get("logprobs"):
                        choice["logprobs"] = {"token_logprobs": [-0.1] * len(text.split())}
                if "messages" in body and body.get("logprobs"):
                    choice["logprobs"] = {"content": [{"logprob": -0.1} for _ in text.split()]}
                self._json(200, {"id": "x", "model": body.get("model", "stub"), "choices": [choice],
                                 "usage": usage})

            def _json(self, status: int, data: dict[str, Any]) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client killed mid-reply (the point of these tests) is not news

        self._server = Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def _count(self) -> None:
        with self._lock:
            self.requests += 1

    def _log_call(self, prompt: str) -> int:
        with self._lock:
            self.calls.append(hashlib.sha256(prompt.encode()).hexdigest()[:16])
            return len(self.calls)

    def _misbehave(self, handler: BaseHTTPRequestHandler) -> bool:
        if self.mode == "hang":
            self._closing.wait(HANG_LIMIT_S)
            handler.close_connection = True
            return True
        if self.mode == "die":
            handler.close_connection = True
            handler.connection.close()
            return True
        if self.mode == "error":
            handler.send_error(500, "stub failure")
            return True
        return False

    def hold_at(self, n: int) -> None:
        """Hold the n-th completion call of the stub's life (1-based, as counted in ``calls``)."""
        self.held.clear()
        self._release.clear()
        self._hold_at = n

    def _maybe_hold(self, n: int) -> None:
        if self._hold_at is not None and n == self._hold_at:
            self.held.set()
            self._release.wait(HANG_LIMIT_S)

    def release(self) -> None:
        self._hold_at = None
        self._release.set()

    def close(self) -> None:
        self._closing.set()
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> StubServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
