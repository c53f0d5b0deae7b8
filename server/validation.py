"""Request validation and the OpenAPI document, both from the same pydantic models (spectree)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import request
from pydantic import BaseModel, ValidationError
from spectree import Response as SpecResponse
from spectree import SpecTree
from werkzeug.exceptions import BadRequest

from server import __version__
from server.errors import ApiError, ValidationFailed


def pydantic_fields(exc: ValidationError) -> list[dict[str, str]]:
    fields = []
    for err in exc.errors(include_url=False, include_context=False):
        loc = [str(part) for part in err["loc"] if part not in ("body", "query")]
        fields.append({"field": ".".join(loc) or "body", "message": err["msg"], "type": err["type"]})
    return fields


def _raise_on_invalid(
    _req: Any, _resp: Any, req_validation_error: Exception | None, _instance: Any, *_: Any
) -> None:
    if isinstance(req_validation_error, ValidationError):
        raise ValidationFailed(pydantic_fields(req_validation_error))


spec = SpecTree(
    "flask",
    title="AI receptionist CRM API",
    version=__version__,
    path="apidoc",  # spectree skips routes under its own path; /api/openapi.json is ours
    page_templates={},
    mode="strict",
    before=_raise_on_invalid,
    validation_error_status=422,
)


def _require_json_object() -> None:
    if not request.get_data(cache=True):
        return  # an empty body validates as {} so that all-optional bodies may be omitted
    if not request.is_json:
        raise ApiError(
            "unsupported_media_type",
            "Send the body as JSON with Content-Type: application/json.",
            status=415,
        )
    try:
        payload = request.get_json()
    except BadRequest as exc:
        raise ApiError("invalid_json", "The body is not valid JSON.", status=400) from exc
    if not isinstance(payload, dict):
        raise ValidationFailed([{"field": "body", "message": "must be a JSON object", "type": "type"}])


def endpoint(
    *,
    json: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    resp: type[BaseModel] | None = None,
    status: int = 200,
    tags: tuple[str, ...] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Validate the body/query with pydantic and describe the route in /api/openapi.json.

    The parsed models land in ``request.context.json`` / ``request.context.query``.
    """

    responses: dict[str, Any] = {f"HTTP_{status}": resp} if resp else {f"HTTP_{status}": None}
    validator = spec.validate(json=json, query=query, resp=SpecResponse(**responses), tags=list(tags))

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        validated = validator(view)

        @functools.wraps(validated)  # keeps spectree's route markers and the view's name
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if json is not None:
                _require_json_object()
            return validated(*args, **kwargs)

        return wrapper

    return decorate


def body_of(model: type[Any]) -> Any:
    """The validated JSON body of the current request (typed at the call site)."""
    parsed = request.context.json  # type: ignore[attr-defined]
    if parsed is None:
        parsed = model()
    return parsed


def query_of(model: type[Any]) -> Any:
    return request.context.query  # type: ignore[attr-defined]
