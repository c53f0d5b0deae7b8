"""OpenAI chat completions (WhatsApp replies) through the official library. Never touches the database."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import openai
from openai import OpenAI

from server.providers import built_once
from server.settings import Settings


class AIError(Exception):
    """The AI did not answer (down, timed out, refused); the reply job retries. `code` goes to the inbox."""

    def __init__(self, message: str, code: str = "ai_unavailable"):
        super().__init__(message)
        self.code = code


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]
    raw_arguments: str


@dataclass
class ChatAnswer:
    text: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)

    def assistant_message(self) -> dict[str, Any]:
        """The answer as a message to send back in the next request (after running its tools)."""
        message: dict[str, Any] = {"role": "assistant", "content": self.text or None}
        if self.tool_calls:
            message["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.raw_arguments}}
                for c in self.tool_calls
            ]
        return message


@built_once
def _client(base_url: str, api_key: str, timeout: float) -> OpenAI:
    # Retries are the job's (with backoff, visible in the inbox), not the library's.
    return OpenAI(base_url=base_url, api_key=api_key or "not-set", timeout=timeout, max_retries=0)


def complete(settings: Settings, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> ChatAnswer:
    client = _client(settings.openai_base_url, settings.openai_api_key, settings.whatsapp_ai_timeout_seconds)
    # The conversation and the tools go as extra_body: they are already the wire format (plain JSON),
    # and create()'s client-side transform walks them against the typed params on every call, for a
    # body it leaves unchanged. With 20 messages and save_lead that walk cost 8.5 of 13.5 ms of CPU per
    # call (a microbenchmark against the fake AI on the 2-core bench machine). The library still builds
    # the request, authenticates, maps the errors and parses the typed answer; `messages=[]` only
    # satisfies create()'s signature.
    body: dict[str, Any] = {"messages": messages}
    if tools:  # the API refuses an empty list
        body["tools"] = tools
    try:
        completion = client.chat.completions.create(
            model=settings.openai_chat_model, messages=[], extra_body=body
        )
    except openai.OpenAIError as exc:
        raise AIError(f"{type(exc).__name__}: {exc}") from exc
    if not completion.choices:
        raise AIError("the AI answered with no choices")
    message = completion.choices[0].message
    calls = []
    for call in message.tool_calls or []:
        function = getattr(call, "function", None)
        if function is None:
            continue
        try:
            arguments = json.loads(function.arguments or "{}")
        except json.JSONDecodeError:
            arguments = {}
        calls.append(
            ToolCall(
                id=call.id,
                name=function.name,
                arguments=arguments if isinstance(arguments, dict) else {},
                raw_arguments=function.arguments or "{}",
            )
        )
    usage = {}
    if completion.usage is not None:
        usage = {
            "prompt_tokens": completion.usage.prompt_tokens,
            "completion_tokens": completion.usage.completion_tokens,
        }
    return ChatAnswer(text=(message.content or "").strip(), tool_calls=calls, usage=usage)
