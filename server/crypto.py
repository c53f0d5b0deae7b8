"""Secrets at rest (per-business provider credentials), encrypted with DATA_ENCRYPTION_KEY.

DATA_ENCRYPTION_KEY holds one or more Fernet keys, comma-separated, newest first: the first encrypts,
all of them decrypt, so a key is rotated by prepending a new one and re-saving the credentials.
In development without the variable, a key is generated once and kept in instance/ (like SECRET_KEY);
anywhere else the server refuses to start without it.
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app, has_app_context

from server.settings import INSTANCE_DIR, Settings, load_settings


class EncryptionKeyError(RuntimeError):
    """DATA_ENCRYPTION_KEY is missing (outside development) or not a Fernet key."""


def _development_key() -> str:
    path = INSTANCE_DIR / "data_encryption_key"
    if path.exists():
        return path.read_text().strip()
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key().decode()
    path.write_text(key)
    path.chmod(0o600)
    return key


def keys_of(settings: Settings) -> tuple[str, ...]:
    raw = settings.data_encryption_key.strip()
    if not raw:
        if not settings.is_development:
            raise EncryptionKeyError(
                f"APP_ENV={settings.app_env.value} refuses to start: DATA_ENCRYPTION_KEY is not set. "
                'Generate one with: python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"'
            )
        raw = _development_key()
    return tuple(part.strip() for part in raw.split(",") if part.strip())


@cache
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError) as exc:
        raise EncryptionKeyError(
            "DATA_ENCRYPTION_KEY must be Fernet keys (32 url-safe base64-encoded bytes), comma-separated"
        ) from exc


def check(settings: Settings) -> None:
    """Fail at start-up, not at the first webhook, when the key is missing or malformed."""
    _cipher(keys_of(settings))


def active_settings() -> Settings:
    """The running app's settings (tests pass theirs to create_app), else the environment's."""
    if has_app_context():
        return current_app.extensions["settings"]  # type: ignore[no-any-return]
    return _environment_settings()


@cache
def _environment_settings() -> Settings:
    return load_settings()


def encrypt(plaintext: str, settings: Settings | None = None) -> str:
    return _cipher(keys_of(settings or active_settings())).encrypt(plaintext.encode()).decode()


def decrypt(token: str, settings: Settings | None = None) -> str:
    try:
        return _cipher(keys_of(settings or active_settings())).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise EncryptionKeyError("a stored secret cannot be decrypted with DATA_ENCRYPTION_KEY") from exc
