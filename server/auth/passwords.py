"""argon2id password hashing."""

from __future__ import annotations

import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from server.concurrency import run_blocking

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return run_blocking(_hasher.hash, password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return run_blocking(_hasher.verify, password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def burn_verification_time(password: str) -> None:
    """Verify against a throw-away hash so an unknown email costs as much as a wrong password."""
    verify_password(_dummy_hash(), password)


def generate_password() -> str:
    return secrets.token_urlsafe(15)
