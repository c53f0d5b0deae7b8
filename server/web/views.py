"""Health endpoints, /version, and the single-page app with its fallback to index.html."""

from __future__ import annotations

import gzip
import mimetypes
import subprocess
from datetime import UTC, datetime
from functools import cache, lru_cache
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, request, send_from_directory

from server import __version__
from server.auth.guard import Access, access
from server.errors import ApiError, error_response
from server.migrate import database_revisions, head_revisions, known_revisions
from server.settings import PROJECT_ROOT
from server.validation import endpoint, spec
from server.web.schemas import HealthOut, ReadyOut, VersionOut

bp = Blueprint("web", __name__)
TAGS = ("health",)


class NotReady(ApiError):
    status = 503
    error = "not_ready"


CLIENT_DIST = PROJECT_ROOT / "client" / "dist"
ASSET_MAX_AGE = 365 * 24 * 3600


@bp.get("/healthz")
@endpoint(resp=HealthOut, tags=TAGS)
def healthz() -> HealthOut:
    return HealthOut(status="ok")


@bp.get("/livez")
@endpoint(resp=HealthOut, tags=TAGS)
def livez() -> HealthOut:
    return HealthOut(status="ok")


@cache
def migration_heads() -> frozenset[str]:
    return frozenset(head_revisions())


@cache
def migration_revisions() -> frozenset[str]:
    return frozenset(known_revisions())


@bp.get("/readyz")
@endpoint(resp=ReadyOut, tags=TAGS)
def readyz() -> ReadyOut:
    """200 only when the database answers and its schema is at this code's migration head."""
    try:
        current = database_revisions()
    except Exception as exc:
        message = f"The database does not answer: {type(exc).__name__}."
        raise NotReady("database_unreachable", message) from exc
    head = ", ".join(sorted(migration_heads()))
    at = ", ".join(sorted(current)) or None
    if current == migration_heads():
        return ReadyOut(status="ok", schema_revision=at)
    if current - migration_revisions():
        # A newer release migrated this database and this (older) code is still serving it.
        reason, advice = "schema_ahead", "it is newer than this code: deploy the release that migrated it"
    else:
        reason, advice = "schema_behind", "run the migrations"
    message = f"The database schema is at {at or 'nothing'}, the code needs {head}: {advice}."
    raise NotReady(reason, message, current=at, head=head)


@cache
def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],  # noqa: S607 - git from PATH, read-only
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=2,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() or "unknown"


@bp.get("/version")
@endpoint(resp=VersionOut, tags=TAGS)
def version() -> VersionOut:
    settings = current_app.extensions["settings"]
    built_at = settings.built_at or _dist_built_at()
    return VersionOut(version=__version__, commit=settings.git_commit or _git_commit(), built_at=built_at)


def _dist_built_at() -> str | None:
    index = CLIENT_DIST / "index.html"
    if not index.exists():
        return None
    return datetime.fromtimestamp(index.stat().st_mtime, UTC).isoformat()


@bp.get("/api/openapi.json")
@access(Access.public)
def openapi() -> Response:
    return jsonify(spec.spec)


COMPRESSIBLE = frozenset({".js", ".css", ".svg", ".json", ".map", ".txt", ".html"})


def _gzipped(file: Path) -> bytes | None:
    """The asset gzipped (once per file and process: the names are content hashes), or None for what
    does not shrink (images, fonts). The app's scripts went over the wire uncompressed: 738 KB on a
    cold leads page, ~240 KB gzipped."""
    if file.suffix not in COMPRESSIBLE:
        return None
    stat = file.stat()
    return _gzip_file(str(file), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=512)
def _gzip_file(path: str, _mtime_ns: int, _size: int) -> bytes:
    return gzip.compress(Path(path).read_bytes(), compresslevel=6, mtime=0)


@bp.get("/", defaults={"path": ""})
@bp.get("/<path:path>")
@access(Access.public)  # the catch-all also sees unknown /api paths; it answers them 404
def spa(path: str) -> Response:
    if path.startswith(("api/", "webhook/", "ws/")) or path in ("api", "webhook", "ws"):
        return error_response(404, "not_found", "no_such_route", f"No route /{path}.")
    if path and (CLIENT_DIST / path).is_file():
        if not path.startswith("assets/"):
            return send_from_directory(CLIENT_DIST, path)
        # Hashed file names: cached for a year and never revalidated. (Setting max-age on the
        # response afterwards kept send_file's no-cache: every asset was asked for again.)
        packed = _gzipped(CLIENT_DIST / path) if request.accept_encodings["gzip"] else None
        if packed is None:
            response = send_from_directory(CLIENT_DIST, path, max_age=ASSET_MAX_AGE)
        else:
            response = Response(packed, mimetype=mimetypes.guess_type(path)[0] or "application/octet-stream")
            response.headers["Content-Encoding"] = "gzip"
            response.cache_control.public = True
            response.cache_control.max_age = ASSET_MAX_AGE
        response.vary.add("Accept-Encoding")
        response.cache_control.immutable = True
        return response
    index = CLIENT_DIST / "index.html"
    if not index.exists():
        return error_response(
            503, "not_built", "spa_not_built", "The web app is not built; `make run` builds client/dist."
        )
    response = send_from_directory(CLIENT_DIST, "index.html")
    response.cache_control.no_cache = True
    return response
