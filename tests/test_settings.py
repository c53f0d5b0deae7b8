"""Settings refuse to start outside development with a missing or weak SECRET_KEY."""

from __future__ import annotations

import pytest

from server.settings import AppEnv, Settings, WeakSecretKeyError


@pytest.mark.parametrize("env", [AppEnv.preview, AppEnv.production])
@pytest.mark.parametrize("key", ["", "short", "changeme", "a" * 40, "ab" * 20])
def test_weak_secret_refused(env: AppEnv, key: str) -> None:
    with pytest.raises(WeakSecretKeyError, match="SECRET_KEY"):
        Settings(app_env=env, secret_key=key)


def test_strong_secret_accepted_and_cookie_flags_follow_env() -> None:
    key = "Zq3-vN8_pL2xR7tK1mW9sY4bC6dF0hJ5gE"
    preview = Settings(app_env=AppEnv.preview, secret_key=key)
    assert preview.cookie_secure and preview.cookie_samesite == "None"
    production = Settings(app_env=AppEnv.production, secret_key=key)
    assert production.cookie_secure and production.cookie_samesite == "Lax"
    dev = Settings(app_env=AppEnv.development, secret_key="")
    assert not dev.cookie_secure and dev.cookie_samesite == "Lax" and len(dev.secret_key) >= 32
