"""Reading the environment with one-line errors that name the variable.

django-environ does the parsing; this wrapper turns each malformed or missing
value into ``ConfigError("VARIABLE: what is wrong")`` so ``manage.py`` and the
ASGI entry point can print one line and stop before anything starts.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path
from urllib.parse import urlparse

import environ
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ImproperlyConfigured):
    """A setting read from the environment is missing or malformed."""


class Config:
    def __init__(self, *, var_dir: Path) -> None:
        self.env = environ.Env()
        self.var_dir = var_dir

    def is_set(self, name: str) -> bool:
        return bool(os.environ.get(name, "").strip())

    def _raw(self, name: str, required: bool) -> str | None:
        value = os.environ.get(name)
        if value is None or not value.strip():
            if required:
                raise ConfigError(f"{name}: required in production but not set")
            return None
        return value.strip()

    def str(self, name: str, *, default: str, required: bool = False) -> str:
        value = self._raw(name, required)
        return default if value is None else value

    def choice(self, name: str, *, default: str, choices: tuple[str, ...]) -> str:
        value = self._raw(name, False)
        if value is None:
            return default
        if value not in choices:
            raise ConfigError(f"{name}: must be one of {', '.join(choices)} (got {value!r})")
        return value

    def bool(self, name: str, *, default: bool) -> bool:
        value = os.environ.get(name)
        if value is None:
            return default
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ConfigError(f"{name}: expected true/false (1/0, yes/no, on/off), got {value!r}")

    def int(self, name: str, *, default: int) -> int:
        value = self._raw(name, False)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise ConfigError(f"{name}: expected a whole number, got {value!r}") from None
        if number < 0:
            raise ConfigError(f"{name}: must not be negative, got {number}")
        return number

    def float(self, name: str, *, default: float) -> float:
        value = self._raw(name, False)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(f"{name}: expected a number of seconds such as 0.5, got {value!r}") from None
        if not 0 < number < 3600:
            raise ConfigError(f"{name}: must be above 0 and below 3600, got {number}")
        return number

    def list(self, name: str, *, default: list[str] | None) -> list[str]:
        value = self._raw(name, default is None)
        if value is None:
            return list(default or [])
        items = [item.strip() for item in value.split(",") if item.strip()]
        if not items:
            raise ConfigError(f"{name}: expected a comma-separated list, got {value!r}")
        return items

    def path(self, name: str, *, default: Path) -> Path:
        value = self._raw(name, False)
        return Path(value) if value else default

    def url(self, name: str, *, default: str, schemes: tuple[str, ...], required: bool = False) -> str:
        value = self._raw(name, required)
        if value is None:
            return default
        parsed = urlparse(value)
        if parsed.scheme not in schemes or not parsed.hostname:
            raise ConfigError(
                f"{name}: expected a URL like {schemes[0]}://host:port (schemes: {', '.join(schemes)}), got {value!r}"
            )
        try:
            parsed.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            raise ConfigError(f"{name}: the port in {value!r} is not a number between 0 and 65535") from None
        return value

    def db_url(self, name: str, *, default: str, required: bool = False) -> dict:
        value = self._raw(name, required)
        url = value or default
        parsed = urlparse(url)
        if parsed.scheme not in ("postgres", "postgresql", "pgsql") or not parsed.path.strip("/"):
            raise ConfigError(f"{name}: expected postgres://user:password@host:port/dbname, got {value!r}")
        try:
            parsed.port  # noqa: B018
        except ValueError:
            raise ConfigError(f"{name}: the port in {value!r} is not a number between 0 and 65535") from None
        config = environ.Env.db_url_config(url)
        config["ENGINE"] = "django.db.backends.postgresql"
        return config

    def secret_key(self, name: str, *, required: bool) -> str:
        value = self._raw(name, required)
        if value is not None:
            if required and (len(value) < 50 or len(set(value)) < 5):
                raise ConfigError(f"{name}: must be at least 50 random characters in production")
            return value
        key_file = self.var_dir / "keys" / "django_secret_key"
        if key_file.exists():
            return key_file.read_text().strip()
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(64)
        key_file.write_text(key)
        key_file.chmod(0o600)
        return key

    def ed25519_key(self, name: str, *, required: bool) -> bytes | None:
        value = self._raw(name, required)
        if value is None:
            return None
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(f"{name}: expected base64 of a 32-byte Ed25519 private key") from None
        if len(raw) != 32:
            raise ConfigError(f"{name}: expected 32 bytes after base64 decoding, got {len(raw)}")
        return raw

    def ed25519_public_keys(self, name: str) -> list[str]:
        """Comma-separated raw Ed25519 public keys in hex (64 digits each), lower-cased."""
        value = self._raw(name, False)
        if value is None:
            return []
        return [_public_key_hex(name, item.strip()) for item in value.split(",") if item.strip()]

    def ed25519_public_keys_file(self, name: str) -> list[str]:
        """The keys in the file ``name`` points to: one hex public key a line, ``# comments`` and blank lines ignored."""
        value = self._raw(name, False)
        if value is None:
            return []
        try:
            lines = Path(value).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{name}: {value} cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
        keys = []
        for number, line in enumerate(lines, start=1):
            item = line.split("#", 1)[0].strip()
            if item:
                keys.append(_public_key_hex(f"{name} ({value} line {number})", item))
        return keys


def _public_key_hex(where: str, value: str) -> str:
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        shown = value if len(value) <= 20 else value[:20] + "…"
        raise ConfigError(f"{where}: expected a raw Ed25519 public key as 64 hex digits, got {shown!r}")
    return raw.hex()
