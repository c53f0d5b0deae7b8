"""create_app(): settings → db → session → SeaSurf → limiter → guard → blueprints → SPA."""

from __future__ import annotations

import logging
import secrets
import sys
from datetime import timedelta
from typing import Any

from flask import Flask, Response, g, request
from flask_seasurf import SeaSurf
from werkzeug.middleware.proxy_fix import ProxyFix

from server.db import db_session, init_db
from server.errors import register_error_handlers
from server.extensions import limiter
from server.settings import Settings, load_settings


def create_app(config: Settings | None = None, **flask_config: Any) -> Flask:
    settings = config or load_settings()
    _configure_logging(settings.log_level)
    app = Flask(__name__, static_folder=None)
    app.extensions["settings"] = settings
    app.config.update(flask_config)
    if settings.proxy_fix_hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app,
            x_for=settings.proxy_fix_hops,
            x_proto=settings.proxy_fix_hops,
            x_host=settings.proxy_fix_hops,
            x_port=settings.proxy_fix_hops,
        )

    init_db(settings.database_url)
    app.teardown_appcontext(lambda _exc: db_session.remove())

    app.before_request(_assign_request_id)
    app.after_request(_echo_request_id)

    # Session cookie, then CSRF (SeaSurf keeps its token in that session), cookie flags per APP_ENV.
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME="crm_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        SESSION_COOKIE_SAMESITE=settings.cookie_samesite,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_lifetime_hours),
        CSRF_COOKIE_NAME="XSRF-TOKEN",
        CSRF_HEADER_NAME="X-CSRFToken",
        CSRF_COOKIE_HTTPONLY=False,
        CSRF_COOKIE_SECURE=settings.cookie_secure,
        CSRF_COOKIE_SAMESITE=settings.cookie_samesite,
        CSRF_CHECK_REFERER=settings.csrf_check_referer,
        # SeaSurf turns itself off when TESTING is true unless told otherwise: never let it.
        CSRF_DISABLE=False,
        RATELIMIT_STORAGE_URI=settings.redis_url or "memory://",
        RATELIMIT_HEADERS_ENABLED=True,
        RATELIMIT_KEY_PREFIX="crm",
        # No body is read past this (413): the largest legitimate one is a 20 MB CSV import.
        MAX_CONTENT_LENGTH=25 * 1024 * 1024,
    )
    csrf = SeaSurf(app)
    app.extensions["csrf"] = csrf
    limiter.init_app(app)

    from server.auth import guard

    guard.install(app)
    _register_blueprints(app)
    # The exempt list of SPEC.md, exactly: login, logout, everything under /webhook/ (GETs such as
    # the health endpoints are never checked by SeaSurf).
    csrf.exempt(app.view_functions["auth.login"])
    csrf.exempt(app.view_functions["auth.logout"])
    csrf.exempt_urls(("/webhook/",))
    register_error_handlers(app)

    from server import cli

    cli.register(app)
    return app


class _CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is when a record is emitted: gunicorn's worker swaps the
    stream after the app is loaded, and a handler holding the old one went silent."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _configure_logging(level: str) -> None:
    root = logging.getLogger()
    root.setLevel(level.upper())
    # The twilio library logs each REST request and response at INFO, about ten lines per WhatsApp
    # send (its headers): shown with LOG_LEVEL=debug only.
    logging.getLogger("twilio.http_client").setLevel(
        logging.DEBUG if root.level <= logging.DEBUG else max(root.level, logging.WARNING)
    )
    if not any(isinstance(h, _CurrentStderrHandler) for h in root.handlers):
        handler = _CurrentStderrHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)


def _register_blueprints(app: Flask) -> None:
    from server.admin.views import bp as admin_bp
    from server.auth.views import bp as auth_bp
    from server.business.views import bp as business_bp
    from server.calls.views import bp as calls_bp
    from server.leads.views import bp as leads_bp
    from server.reminders.views import bp as reminders_bp
    from server.validation import spec
    from server.web.views import bp as web_bp
    from server.whatsapp.views import bp as whatsapp_bp
    from server.whatsapp.webhooks import bp as whatsapp_webhooks_bp

    for blueprint in (auth_bp, admin_bp, business_bp, leads_bp, reminders_bp, calls_bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(whatsapp_bp)
    app.register_blueprint(whatsapp_webhooks_bp)
    spec.app = app  # the document is served by web.views.openapi at /api/openapi.json
    app.register_blueprint(web_bp)  # last: its catch-all serves the SPA


def _assign_request_id() -> None:
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming[:64] if incoming.isascii() and incoming else secrets.token_hex(8)


def _echo_request_id(response: Response) -> Response:
    response.headers["X-Request-ID"] = g.get("request_id", "")
    return response
