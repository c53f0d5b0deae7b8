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
