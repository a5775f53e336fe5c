"""A local stand-in for an OpenAI-compatible LLM provider (no real provider is reachable from here).

It speaks ``POST /v1/chat/completions`` as OpenAI does: JSON answers with ``usage``, and ``"stream": true`` as
server-sent events (``data: {chunk}`` lines, a last chunk with ``usage`` when ``stream_options.include_usage``,
then ``data: [DONE]``). The answer is a deterministic "summary" (the first words of the last user message), so tests can
check what the gateway sent. Models steer its behaviour:

- ``…-slow``: waits ``slow_seconds`` before answering (timeouts);
- ``…-error``: answers 500 with an OpenAI-style error;
- ``…-nousage``: leaves ``usage`` out (the gateway estimates and marks it).

Every request received is kept in ``StandIn.requests`` (headers and body). Run it by hand with
``python -m tools.llm_standin [port]`` for a browser walk.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


class StandIn:
    def __init__(self, *, port: int = 0, slow_seconds: float = 5.0, api_key: str = "sk-standin") -> None:
        self.requests: list[dict] = []
        self.slow_seconds = slow_seconds
        self.api_key = api_key
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall between

            def log_message(self, *args):
                pass

            def handle_one_request(self):
                try:
                    super().handle_one_request()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up (a gateway timeout): nothing to answer

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    return self._json(400, {"error": {"message": "not JSON", "type": "invalid_request_error"}})
                standin.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._json(404, {"error": {"message": "unknown path", "type": "invalid_request_error"}})
                if self.headers.get("Authorization") != f"Bearer {standin.api_key}":
                    return self._json(401, {"error": {"message": "bad key", "type": "authentication_error"}})
                model = str(body.get("model", ""))
                if model.endswith("-error"):
                    return self._json(500, {"error": {"message": "the model is overloaded", "type": "server_error"}})
                if model.endswith("-slow"):
                    time.sleep(standin.slow_seconds)
                prompt = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
                users = [str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == "user"]
                words = (users[-1] if users else prompt).split()  # the answer echoes the last user message
                answer = "Summary: " + " ".join(words[:40])
                usage = {
                    "prompt_tokens": _tokens(prompt),
                    "completion_tokens": min(_tokens(answer), int(body.get("max_tokens") or 10**6)),
                }
                usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
                with_usage = not model.endswith("-nousage")
                if body.get("stream"):
                    return self._stream(model, answer, usage if with_usage else None, body)
                reply = {
                    "id": "chatcmpl-standin", "object": "chat.completion", "created": int(time.time()), "model": model,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": answer},
                                 "finish_reason": "stop"}],
                }  # fmt: skip
                if with_usage:
                    reply["usage"] = usage
                return self._json(200, reply)

            def _stream(self, model, answer, usage, body):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()

                def send(obj):
                    data = f"data: {obj if isinstance(obj, str) else json.dumps(obj)}\n\n".encode()
                    self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
                    self.wfile.flush()

                base = {"id": "chatcmpl-standin", "object": "chat.completion.chunk", "created": int(time.time()),
                        "model": model}  # fmt: skip
                for word in answer.split(" "):
                    send({**base, "choices": [{"index": 0, "delta": {"content": word + " "}, "finish_reason": None}]})
                send({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                if usage and (body.get("stream_options") or {}).get("include_usage"):
                    send({**base, "choices": [], "usage": usage})
                send("[DONE]")
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/v1"

    def __enter__(self) -> StandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8765
    with StandIn(port=port) as standin:
        print(f"LLM stand-in at {standin.url} (key sk-standin); Ctrl-C stops it", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
