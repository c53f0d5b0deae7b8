"""Every setting from the environment, typed, in one place."""

from __future__ import annotations

import secrets
from enum import StrEnum
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_ROOT / "instance"

# Values people paste from tutorials; refused outside development even when long enough.
_KNOWN_WEAK_SECRETS = {
    "changeme",
    "change-me",
    "secret",
    "dev",
    "development",
    "supersecret",
    "your-secret-key",
    "please-change-me",
}
MIN_SECRET_LENGTH = 32


class AppEnv(StrEnum):
    development = "development"
    preview = "preview"
    production = "production"


class WeakSecretKeyError(RuntimeError):
    """Raised at start-up when SECRET_KEY is missing or weak outside development."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    app_env: AppEnv = AppEnv.development
    secret_key: str = ""
    database_url: str = ""
    port: int = 8000
    redis_url: str = ""
    log_level: str = "info"

    impersonation_ttl_minutes: int = Field(default=60, ge=1, le=24 * 60)
    session_lifetime_hours: int = Field(default=12, ge=1, le=24 * 30)
    # Flask-Limiter syntax; per client IP counts every attempt, per email counts failures only.
    login_rate_limit_ip: str = "30 per minute"
    login_rate_limit_email: str = "10 per 15 minutes"
    # Number of reverse proxies in front of the app whose X-Forwarded-* headers are trusted.
    proxy_fix_hops: int = Field(default=0, ge=0, le=5)
    # SeaSurf's strict Referer check on HTTPS; off by default because the SameSite cookie plus
    # the per-session token already stop cross-site writes and curl-based smoke tests send none.
    csrf_check_referer: bool = False

    # Jobs (Huey): SQLite file unless REDIS_URL is set; the consumer runs inside the gunicorn worker
    # unless JOBS_EMBEDDED_CONSUMER=false (then run `huey_consumer server.jobs.worker.huey`).
    jobs_sqlite_path: str = ""
    jobs_embedded_consumer: bool | None = None
    jobs_workers: int = Field(default=8, ge=1, le=200)

    # Twilio / OpenAI (shared): the platform's Twilio account (numbers are bought by the platform and
    # assigned to businesses), the https origin Twilio sees (signatures are checked against it), the
    # OpenAI key.
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    public_base_url: str = ""
    openai_api_key: str = ""

    # Calls (the AI phone agent): the speech AI's WebSocket endpoint, model and voice; "ga" or "beta"
    # event names; the media WebSocket's implementation ("fast": websockets' sans-I/O protocol on the
    # raw gevent socket; "flask_sock": flask-sock + simple-websocket, the slower baseline).
    openai_realtime_url: str = "wss://api.openai.com/v1/realtime"
    openai_realtime_model: str = "gpt-realtime"
    openai_realtime_voice: str = "alloy"
    openai_realtime_protocol: str = Field(default="ga", pattern="^(ga|beta)$")
    openai_realtime_transcription_model: str = "gpt-4o-mini-transcribe"
    calls_ws_transport: str = Field(default="fast", pattern="^(fast|flask_sock)$")
    calls_stream_token_ttl_seconds: int = Field(default=120, ge=5, le=3600)
    # A media WebSocket that has not sent a valid `start` by then is closed (1008).
    calls_start_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # Exposes GET /internal/calls/stats (live bridges, greenlets, fds, DB connections) for the tests.
    calls_debug_stats: bool = False

    # WhatsApp (the AI WhatsApp agent): provider API base URLs (tests point them at local fakes), Meta's
    # app secret (webhook signatures) and verify token, the chat model, the key that encrypts per-business
    # credentials at rest (Fernet keys, comma-separated, newest first), and how the AI reply is paced.
    twilio_api_base_url: str = "https://api.twilio.com"
    meta_app_secret: str = ""
    meta_verify_token: str = ""
    meta_graph_base_url: str = "https://graph.facebook.com/v23.0"
    openai_base_url: str = "https://api.openai.com/v1"
    openai_chat_model: str = "gpt-4.1-mini"
    data_encryption_key: str = ""
    # Messages arriving within this many seconds of each other are answered once, together.
    whatsapp_reply_debounce_seconds: float = Field(default=0.7, ge=0, le=30)
    # Once a customer is typing a burst (their last two unanswered lines came within this long of each
    # other, e.g. one arrived while the answer was being written), the quiet period that ends it.
    whatsapp_reply_burst_quiet_seconds: float = Field(default=3.0, ge=0, le=30)
    # ...but a customer who keeps typing is answered after at most this long.
    whatsapp_reply_max_wait_seconds: float = Field(default=5.0, ge=0, le=120)
    # Replies written at once inside the web worker (the embedded consumer); the rest wait their turn
    # so the webhooks sharing the worker are not starved.
    whatsapp_reply_concurrency: int = Field(default=32, ge=1, le=1000)
    whatsapp_ai_history_messages: int = Field(default=20, ge=1, le=200)
    whatsapp_ai_timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    whatsapp_send_timeout_seconds: float = Field(default=15.0, gt=0, le=300)

    git_commit: str = ""
    built_at: str = ""

    @field_validator("database_url")
    @classmethod
    def _default_database(cls, value: str) -> str:
        if value:
            return value
        return f"sqlite:///{INSTANCE_DIR / 'app.db'}"

    @model_validator(mode="after")
    def _check_secret(self) -> Settings:
        if self.app_env is AppEnv.development:
            if not self.secret_key:
                self.secret_key = _development_secret()
            return self
        problem = secret_key_problem(self.secret_key)
        if problem:
            raise WeakSecretKeyError(
                f"APP_ENV={self.app_env.value} refuses to start: SECRET_KEY {problem}. "
                'Generate one with: python -c "import secrets; print(secrets.token_urlsafe(48))"'
            )
        return self

    @property
    def run_embedded_consumer(self) -> bool:
        if self.jobs_embedded_consumer is not None:
            return self.jobs_embedded_consumer
        return not self.redis_url

    @property
    def is_development(self) -> bool:
        return self.app_env is AppEnv.development

    @property
    def cookie_secure(self) -> bool:
        return not self.is_development

    @property
    def cookie_samesite(self) -> str:
        return "None" if self.app_env is AppEnv.preview else "Lax"


def secret_key_problem(key: str) -> str | None:
    if not key:
        return "is not set"
    if len(key) < MIN_SECRET_LENGTH:
        return f"is shorter than {MIN_SECRET_LENGTH} characters"
    if key.lower() in _KNOWN_WEAK_SECRETS or len(set(key)) < 10:
        return "is a well-known or low-entropy value"
    return None


def _development_secret() -> str:
    """A random key kept in instance/ so development sessions survive restarts."""
    path = INSTANCE_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
