"""Fake OpenAI chat completions (PROTOCOLS.md §6): POST /v1/chat/completions, the documented response
shape (choices[0].message with content or tool_calls, finish_reason, usage).

By default it answers "echo: <the customer's latest messages>"; tests queue scripted answers
(text, or tool calls), make it slow (`delay`), or take it down (`down` = HTTP status to answer).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from tests.fakes.whatsapp_http import FakeServer, Recorded, Reply, json_reply

API_KEY = "sk-test-chat"


class FakeOpenAIChat(FakeServer):
    def __init__(self, api_key: str = API_KEY, port: int = 0):
        super().__init__(port)
        self.api_key = api_key
        self.delay = 0.0
        self.down: int | None = None
        self.script: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []
        # Called with each request's body before it is answered (e.g. the customer writes meanwhile).
        self.on_call: Callable[[dict[str, Any]], Any] | None = None
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"{self.base}/v1"

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.delay, self.down = 0.0, None
            self.script.clear()
            self.calls.clear()
            self.on_call = None

    def handle(self, request: Recorded) -> Reply:
        if request.method != "POST" or request.path != "/v1/chat/completions":
            return json_reply(404, {"error": {"message": "Not found", "type": "invalid_request_error"}})
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return json_reply(
                401,
                {
                    "error": {
                        "message": "Incorrect API key provided",
                        "type": "invalid_request_error",
                        "code": "invalid_api_key",
                    }
                },
            )
        body = request.json()
        with self._lock:
            self.calls.append(body)
            down, delay = self.down, self.delay
            scripted = self.script.pop(0) if self.script and down is None else None
        if self.on_call is not None:
            self.on_call(body)
        if delay:
            time.sleep(delay)
        if down is not None:
            return json_reply(
                down, {"error": {"message": "The server is overloaded", "type": "server_error"}}
            )
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
        finish = "stop"
        if scripted and scripted.get("tool_calls"):
            message["tool_calls"] = [
                {
                    "id": "call_" + secrets.token_hex(8),
                    "type": "function",
                    "function": {
                        "name": call["name"],
                        "arguments": json.dumps(call["arguments"], ensure_ascii=False),
                    },
                }
                for call in scripted["tool_calls"]
            ]
            finish = "tool_calls"
        else:
            message["content"] = (
                scripted["text"] if scripted else "echo: " + " | ".join(_latest_user_turns(body))
            )
        return json_reply(
            200,
            {
                "id": "chatcmpl-" + secrets.token_hex(12),
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", ""),
                "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
                "usage": {"prompt_tokens": 120, "completion_tokens": 20, "total_tokens": 140},
                "system_fingerprint": "fp_fake",
            },
        )


def _latest_user_turns(body: dict[str, Any]) -> list[str]:
    """The user messages after the last assistant message: what this reply answers."""
    turns: list[str] = []
    for message in body.get("messages", []):
        if message.get("role") == "assistant" and message.get("content"):
            turns = []
        elif message.get("role") == "user":
            turns.append(str(message.get("content")))
    return turns
