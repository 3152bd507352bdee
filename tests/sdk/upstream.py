"""A tiny deterministic upstream on loopback for the SDK tests: it speaks Anthropic's Messages
API on POST /v1/messages, OpenAI's Chat Completions on POST /v1/chat/completions and OpenAI's
Responses API on POST /v1/responses, answering from the recorded fixtures in
tests/fixtures/{anthropic,openai,responses}/ (a request with tools gets the
two-tool-call answer, any other the text answer; `stream: true` gets the SSE recording, sent
event by event). A last user message of exactly "overload" gets Anthropic's 529 overloaded_error;
POST /v1/messages/count_tokens answers {"input_tokens": 17}.
Every request is recorded for the tests to inspect.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


class Recorded:
    def __init__(self, path: str, headers: dict[str, str], body: dict):
        self.path = path
        self.headers = headers
        self.body = body


class Upstream:
    """Serves until `close()`; `base` is http://127.0.0.1:PORT."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                headers = {k.lower(): v for k, v in self.headers.items()}
                with upstream._lock:
                    upstream.requests.append(Recorded(self.path, headers, body))
                if self.path == "/v1/messages/count_tokens":
                    self._send(200, "application/json", b'{"input_tokens": 17}')
                    return
                if self.path == "/v1/messages":
                    api = "anthropic"
                elif self.path == "/v1/chat/completions":
                    api = "openai"
                elif self.path == "/v1/responses":
                    api = "responses"
                else:
                    self._send(404, "application/json", b'{"error": "no such path"}')
                    return
                if api == "anthropic" and _last_user_text(body) == "overload":
                    data = (FIXTURES / "anthropic" / "error_overloaded.json").read_bytes()
                    self._send(529, "application/json", data)
                    return
                name = "tool_calls" if body.get("tools") and api != "responses" else "text"
                if body.get("stream"):
                    text = (FIXTURES / api / f"{name}.sse").read_text()
                    self._send_events(text.split("\n\n"))
                else:
                    self._send(200, "application/json", (FIXTURES / api / f"{name}.json").read_bytes())

            def _send(self, status: int, content_type: str, data: bytes) -> None:
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _send_events(self, events: list[str]) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                for event in events:
                    if not event.strip():
                        continue
                    chunk = (event + "\n\n").encode()
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def last(self, path: str) -> Recorded:
        with self._lock:
            return [r for r in self.requests if r.path == path][-1]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _last_user_text(body: dict) -> str:
    for message in reversed(body.get("messages", [])):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            return "".join(b.get("text", "") for b in content if isinstance(b, dict))
    return ""
