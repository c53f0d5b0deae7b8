"""The JSON error shape {error, reason, message} and the handlers that produce it."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, jsonify, request
from flask_limiter.errors import RateLimitExceeded
from werkzeug.exceptions import Forbidden as WerkzeugForbidden
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error a client can act on; rendered as JSON with the given status."""

    status = 400
    error = "bad_request"

    def __init__(self, reason: str, message: str, status: int | None = None, **extra: Any):
        super().__init__(message)
        self.reason = reason
        self.message = message
        if status is not None:
            self.status = status
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "reason": self.reason, "message": self.message, **self.extra}


class Unauthorized(ApiError):
    status = 401
    error = "unauthorized"


class Forbidden(ApiError):
    status = 403
    error = "forbidden"


class NotFound(ApiError):
    status = 404
    error = "not_found"

    def __init__(self, what: str, ident: object = None):
        suffix = f" {ident}" if ident is not None else ""
        super().__init__(f"{what}_not_found", f"No {what.replace('_', ' ')}{suffix} here.")


class Conflict(ApiError):
    status = 409
    error = "conflict"


class ValidationFailed(ApiError):
    status = 422
    error = "validation_error"

    def __init__(self, fields: list[dict[str, str]], reason: str = "invalid_fields"):
        names = ", ".join(f["field"] for f in fields) or "body"
        super().__init__(reason, f"Invalid input: {names}.", fields=fields)


def error_response(status: int, error: str, reason: str, message: str, **extra: Any) -> Response:
    response = jsonify({"error": error, "reason": reason, "message": message, **extra})
    response.status_code = status
    return response


# SeaSurf signals every CSRF failure with a bare werkzeug Forbidden whose description is one of
# these sentences; our own refusals never raise werkzeug's Forbidden.
_SEASURF_MARKERS = ("CSRF token", "Referer checking failed")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        response = jsonify(exc.body())
        response.status_code = exc.status
        return response

    @app.errorhandler(RateLimitExceeded)
    def _rate_limited(exc: RateLimitExceeded) -> Response:
        return error_response(
            429,
            "too_many_requests",
            "rate_limited",
            f"Too many attempts ({exc.description}). Wait and try again.",
        )

    @app.errorhandler(WerkzeugForbidden)
    def _forbidden(exc: WerkzeugForbidden) -> Response:
        description = exc.description or ""
        if any(marker in description for marker in _SEASURF_MARKERS):
            log.warning("csrf refused %s %s: %s", request.method, request.path, description)
            return error_response(
                403,
                "forbidden",
                "csrf_failed",
                f"{description} Send the X-CSRFToken header with the value of the XSRF-TOKEN "
                "cookie from GET /api/auth/csrf (fetch it again after login).",
            )
        return error_response(403, "forbidden", "forbidden", description)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        reason = (exc.name or "error").lower().replace(" ", "_")
        response = error_response(status, reason, reason, exc.description or exc.name)
        if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        request_id = g.get("request_id", "-")
        log.exception("unhandled error on %s %s (request %s)", request.method, request.path, request_id)
        return error_response(
            500,
            "internal_error",
            "unexpected",
            f"Something went wrong on our side; quote request id {request_id} to support.",
            request_id=request_id,
        )
