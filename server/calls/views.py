"""Calls over HTTP: Twilio's voice and status webhooks, the media-stream WebSocket, the call log API."""

from __future__ import annotations

import gc
import logging
import os
from typing import Any

import greenlet
from flask import Blueprint, Response, current_app, request
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Connect, VoiceResponse

from server.auth.context import current_context
from server.calls import jobs, service, tokens
from server.calls.bridge import ACTIVE, CallBridge
from server.calls.schemas import CallDetailOut, CallOut, CallPage, CallQuery, TurnOut
from server.calls.service import StreamSetup
from server.calls.websocket import NotAWebSocket, SocketTakenOver, accept_fast, accept_flask_sock
from server.db import get_engine
from server.errors import ApiError, error_response
from server.providers.realtime import openai_from_settings
from server.providers.websocket import WebSocketError
from server.settings import Settings
from server.validation import endpoint, query_of

log = logging.getLogger(__name__)

bp = Blueprint("calls", __name__)
TAGS = ("calls",)

FALLBACK_HE = "מצטערים, אנחנו לא יכולים לענות כרגע. נחזור אליכם בהקדם. תודה ולהתראות."
UNAVAILABLE_HE = "המספר שחייגתם אינו זמין כרגע. תודה ולהתראות."


def _settings() -> Settings:
    return current_app.extensions["settings"]  # type: ignore[no-any-return]


# ---------------------------------------------------------------- Twilio webhooks


def _public_url() -> str:
    """The URL Twilio requested, as Twilio saw it (PUBLIC_BASE_URL, else the forwarded host/proto)."""
    base = _settings().public_base_url.rstrip("/")
    query = request.query_string.decode()
    path = request.path + (f"?{query}" if query else "")
    return f"{base}{path}" if base else request.url


def _check_twilio_signature() -> None:
    auth_token = _settings().twilio_auth_token
    if not auth_token:
        raise ApiError("twilio_not_configured", "TWILIO_AUTH_TOKEN is not set on this server.", status=503)
    signature = request.headers.get("X-Twilio-Signature", "")
    params = request.form.to_dict(flat=True)
    if not signature or not RequestValidator(auth_token).validate(_public_url(), params, signature):
        log.warning("twilio signature refused on %s", request.path)
        raise ApiError("bad_signature", "X-Twilio-Signature does not match this request.", status=403)


def _stream_url() -> str:
    base = _settings().public_base_url.rstrip("/") or request.host_url.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[len("https://") :]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://") :]
    return f"{base}/ws/twilio/media"


def _twiml(response: VoiceResponse) -> Response:
    return Response(str(response), mimetype="text/xml")


@bp.post("/webhook/twilio/voice")
def voice_webhook() -> Response:
    _check_twilio_signature()
    form = request.form.to_dict(flat=True)
    answer = service.off_loop(service.register_incoming, form)
    response = VoiceResponse()
    if answer.business_id is None:
        log.info("incoming call %s refused: %s", form.get("CallSid"), answer.refusal)
        if answer.refusal == "unknown_number":
            response.reject()
        else:
            response.say(UNAVAILABLE_HE, language="he-IL")
            response.hangup()
        return _twiml(response)
    settings = _settings()
    connect = Connect()
    stream = connect.stream(url=_stream_url())
    stream.parameter(name="business_id", value=str(answer.business_id))
    stream.parameter(
        name="token", value=tokens.mint(settings.secret_key, answer.business_id, form["CallSid"])
    )
    response.append(connect)
    # Plays only if the stream ends from our side (the AI is down or dropped): the caller hears an
    # apology instead of silence, and the call is still recorded as a lead.
    response.say(FALLBACK_HE, language="he-IL")
    response.hangup()
    return _twiml(response)


@bp.post("/webhook/twilio/voice/status")
def voice_status_webhook() -> Response:
    _check_twilio_signature()
    service.off_loop(service.record_status, request.form.to_dict(flat=True))
    return Response(status=204)


# ---------------------------------------------------------------- the media stream


class _Store:
    """The bridge's database side: each step off the audio path, the final save as a Huey job."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def begin(self, business_param: str, token: str, call_sid: str, stream_sid: str) -> StreamSetup:
        return service.off_loop(
            service.begin_stream,
            self.settings.secret_key,
            self.settings.calls_stream_token_ttl_seconds,
            business_param,
            token,
            call_sid,
            stream_sid,
        )

    def save_lead(self, setup: StreamSetup, arguments: dict[str, Any]) -> int | None:
        return service.off_loop(service.save_lead_from_tool, setup, arguments)

    def finish(self, record: dict[str, Any]) -> None:
        jobs.hand_over(record)


@bp.route("/ws/twilio/media", websocket=True)
def media_stream() -> Response:
    settings = _settings()
    try:
        if settings.calls_ws_transport == "flask_sock":
            twilio: Any = accept_flask_sock(request.environ)
        else:
            twilio = accept_fast(request.environ)
    except NotAWebSocket as exc:
        return error_response(400, "bad_request", "not_a_websocket", str(exc))
    except WebSocketError:
        return SocketTakenOver()
    CallBridge(
        twilio,
        openai_from_settings(settings),
        _Store(settings),
        start_timeout=settings.calls_start_timeout_seconds,
    ).run()
    return SocketTakenOver()


_LAG: list[float] = []
_GC: list[float] = []  # full collections' pauses, ms
_MONITOR: list[Any] = []


def _start_hub_monitor() -> None:
    """How late a 10 ms sleep wakes up: how long something held the gevent hub (debug only)."""
    if _MONITOR:
        return
    import time

    import gevent

    def watch() -> None:
        while True:
            started = time.perf_counter()
            gevent.sleep(0.01)
            _LAG.append((time.perf_counter() - started) * 1000 - 10)
            if len(_LAG) > 100_000:
                del _LAG[:50_000]

    _MONITOR.append(gevent.spawn(watch))
    started: list[float] = [0.0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        elif info.get("generation") == 2:
            _GC.append((time.perf_counter() - started[0]) * 1000)

    gc.callbacks.append(on_gc)


@bp.get("/internal/calls/stats")
def call_stats() -> Response:
    """Live bridges, greenlets, open file descriptors, checked-out DB connections (tests only)."""
    if not _settings().calls_debug_stats:
        return error_response(404, "not_found", "not_found", "No such page.")
    _start_hub_monitor()
    if request.args.get("lag"):
        samples, _LAG[:] = sorted(_LAG), []
        if not samples:
            return Response('{"samples": 0}', mimetype="application/json")
        p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
        return Response(
            f'{{"samples": {len(samples)}, "p50_ms": {samples[len(samples) // 2]:.2f}, '
            f'"p99_ms": {p99:.2f}, "max_ms": {samples[-1]:.2f}, "gc2": {[round(x, 1) for x in _GC[-20:]]}}}',
            mimetype="application/json",
        )
    if request.args.get("stacks"):
        from gevent.util import format_run_info

        return Response("\n".join(format_run_info()), mimetype="text/plain")
    gc.collect()
    greenlets = sum(1 for o in gc.get_objects() if isinstance(o, greenlet.greenlet) and not o.dead)
    pool = get_engine().pool
    checked_out = pool.checkedout() if hasattr(pool, "checkedout") else 0
    pooled = pool.checkedin() if hasattr(pool, "checkedin") else 0  # idle connections kept for reuse
    fds = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else -1
    sockets = 0
    if fds >= 0:
        for name in os.listdir("/proc/self/fd"):
            try:
                sockets += os.readlink(f"/proc/self/fd/{name}").startswith("socket:")
            except OSError:
                continue
    return Response(
        f'{{"bridges": {len(ACTIVE)}, "greenlets": {greenlets}, "fds": {fds}, "sockets": {sockets}, '
        f'"db_checked_out": {checked_out}, "db_pooled": {pooled}}}',
        mimetype="application/json",
    )


# ---------------------------------------------------------------- the call log


def _call_out(call: Any) -> CallOut:
    return CallOut.model_validate(call, from_attributes=True)


@bp.get("/api/calls")
@endpoint(query=CallQuery, resp=CallPage, tags=TAGS)
def list_calls() -> CallPage:
    rows, next_cursor = service.list_calls(current_context().tenant, query_of(CallQuery))
    return CallPage(items=[_call_out(c) for c in rows], next_cursor=next_cursor)


@bp.get("/api/calls/<int:call_id>")
@endpoint(resp=CallDetailOut, tags=TAGS)
def get_call(call_id: int) -> CallDetailOut:
    call = service.get_call(current_context().tenant, call_id)
    base = _call_out(call).model_dump()
    return CallDetailOut(
        **base,
        stream_sid=call.stream_sid,
        transcript=[TurnOut.model_validate(t) for t in call.transcript],
        captured=call.captured,
        ai_usage=call.ai_usage,
        status_events=call.status_events,
    )
