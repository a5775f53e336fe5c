"""Barman, GnuPG and PostgreSQL's own tools, configured from settings and the backup policy (ADR 0011).

Barman (https://pgbarman.org, 3.19) is the backup engine: ``pg_basebackup`` base backups (full, or PostgreSQL 18's
block-level incremental), WAL from the server's ``archive_command``, gzip then OpenPGP encryption of every base
backup and WAL file, and recovery to a time, a restore point or the end of WAL. This module writes Barman's
configuration (``BACKUP_DIR/barman.conf``) and runs its command line; nothing here re-implements what it does.

Encryption: Barman encrypts to an OpenPGP key (``BACKUP_GPG_KEY``) held in a keyring of the product's own
(``BACKUP_GNUPG_HOME``), whose ``gpg.conf`` fixes the cipher to AES-256 (the session key wrapped with the key's
Curve25519 ECDH subkey, or RSA for an RSA key). Restores decrypt with ``BACKUP_GPG_PASSPHRASE``, which Barman reads
from this process's environment through ``encryption_passphrase_command``; it is never written to a file outside
development.
"""

from __future__ import annotations

import getpass
import json
import os
import secrets
import subprocess
import sys
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from apps.safety.errors import BackupEngineError, EncryptionKeyError

CIPHER = "OpenPGP (GnuPG), AES-256 with the session key wrapped by the backup key (gzip before encryption)"
PASSPHRASE_ENV = "IG_BACKUP_GPG_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret
GPG_CONF = """\
# Written by IntelGraph (apps/safety/engine.py): the cipher of every backup and WAL file Barman encrypts.
personal-cipher-preferences AES256
personal-digest-preferences SHA512
cipher-algo AES256
compress-algo none
"""
# The agent must never remember the passphrase: each decryption proves it again (a wrong BACKUP_GPG_PASSPHRASE
# fails at once, not after the cache expires).
GPG_AGENT_CONF = """\
# Written by IntelGraph (apps/safety/engine.py).
default-cache-ttl 0
max-cache-ttl 0
allow-loopback-pinentry
"""
_key_lock = threading.Lock()


# --------------------------------------------------------------------------- paths


def barman_bin() -> Path:
    return Path(sys.executable).parent / "barman"


def pg_bin(name: str) -> Path:
    return Path(settings.BACKUP_PG_BIN_DIR) / name


def config_path() -> Path:
    """One file per environment (the test suite's names its own database), all over the same repository."""
    suffix = "" if settings.IG_ENV in ("development", "production") else f"-{settings.IG_ENV}"
    return Path(settings.BACKUP_DIR) / f"barman{suffix}.conf"


def server_dir() -> Path:
    return Path(settings.BACKUP_DIR) / settings.BACKUP_SERVER_NAME


def staging_dir() -> Path:
    return Path(settings.BACKUP_SCRATCH_DIR) / "staging"


# --------------------------------------------------------------------------- keys


def passphrase() -> str:
    """The passphrase of the backup key: BACKUP_GPG_PASSPHRASE, or (development) one kept under var/keys/."""
    if settings.BACKUP_GPG_PASSPHRASE:
        return settings.BACKUP_GPG_PASSPHRASE
    if settings.PRODUCTION:
        raise ImproperlyConfigured("BACKUP_GPG_PASSPHRASE must be set in production")
    path = Path(settings.BACKUP_PASSPHRASE_FILE)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _gpg(*args: str, input_bytes: bytes | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    home = Path(settings.BACKUP_GNUPG_HOME)
    return subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--no-tty", *args],
        input=input_bytes,
        capture_output=True,
        timeout=timeout,
    )


def _fingerprints(*, secret: bool) -> list[str]:
    result = _gpg("--with-colons", "--list-secret-keys" if secret else "--list-keys")
    rows = result.stdout.decode(errors="replace").splitlines()
    found, primary = [], False
    for row in rows:
        fields = row.split(":")
        if fields[0] in ("sec", "pub"):
            primary = True
        elif fields[0] in ("ssb", "sub"):
            primary = False
        elif fields[0] == "fpr" and primary:
            found.append(fields[9])
            primary = False
    return found


def key_id() -> str:
    """The fingerprint of the backup key, importing BACKUP_GPG_KEY (or generating a development key) once."""
    return _key_id(settings.BACKUP_GPG_KEY, str(settings.BACKUP_GNUPG_HOME))


@cache
def _key_id(armoured: str, home: str) -> str:
    with _key_lock:
        folder = Path(home)
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
        (folder / "gpg.conf").write_text(GPG_CONF)
        agent_conf = folder / "gpg-agent.conf"
        if not agent_conf.exists() or agent_conf.read_text() != GPG_AGENT_CONF:
            agent_conf.write_text(GPG_AGENT_CONF)
            subprocess.run(
                ["gpgconf", "--homedir", str(folder), "--kill", "gpg-agent"], capture_output=True, timeout=30
            )
        if armoured:
            before = set(_fingerprints(secret=False))
            result = _gpg("--import", input_bytes=armoured.encode())
            if result.returncode != 0:
                raise EncryptionKeyError(
                    "BACKUP_GPG_KEY is not an OpenPGP key GnuPG can import: "
                    + result.stderr.decode(errors="replace").strip()[-400:]
                )
            mine = _imported_fingerprint(armoured) or next(iter(set(_fingerprints(secret=False)) - before), None)
            if mine is None:
                raise EncryptionKeyError("BACKUP_GPG_KEY imported, but GnuPG lists no key from it")
            _gpg("--import-ownertrust", input_bytes=f"{mine}:6:\n".encode())
            return mine
        if settings.PRODUCTION:
            raise ImproperlyConfigured("BACKUP_GPG_KEY must be set in production")
        existing = _fingerprints(secret=True)
        if existing:
            return existing[0]
        spec = (
            "Key-Type: EDDSA\nKey-Curve: ed25519\nKey-Usage: sign\nSubkey-Type: ECDH\nSubkey-Curve: cv25519\n"
            "Subkey-Usage: encrypt\nName-Real: IntelGraph backups (development)\nName-Email: backups@intelgraph.invalid\n"
            f"Expire-Date: 0\nPassphrase: {passphrase()}\n%commit\n"
        )
        result = _gpg("--pinentry-mode", "loopback", "--gen-key", input_bytes=spec.encode(), timeout=120)
        if result.returncode != 0:
            raise EncryptionKeyError("could not generate the development backup key: " + result.stderr.decode()[-400:])
        return _fingerprints(secret=True)[0]


def _imported_fingerprint(armoured: str) -> str | None:
    result = _gpg("--with-colons", "--import-options", "show-only", "--import", input_bytes=armoured.encode())
    for row in result.stdout.decode(errors="replace").splitlines():
        fields = row.split(":")
        if fields[0] == "fpr":
            return fields[9]
    return None


def encryption_probe() -> None:
    """Encrypt a random block to the backup key and decrypt it with the passphrase; EncryptionKeyError if not.

    Run before anything is written (a backup, a restore), so a missing key or a wrong passphrase is said at
    once instead of half-way through a restore.
    """
    fingerprint = key_id()
    probe = secrets.token_bytes(32)
    encrypted = _gpg("--trust-model", "always", "--encrypt", "--recipient", fingerprint, input_bytes=probe)
    if encrypted.returncode != 0:
        raise EncryptionKeyError(
            f"cannot encrypt to the backup key {fingerprint}: " + encrypted.stderr.decode(errors="replace")[-300:]
        )
    decrypted = _gpg(
        "--pinentry-mode",
        "loopback",
        "--passphrase-fd",
        "0",
        "--decrypt",
        input_bytes=passphrase().encode() + b"\n" + encrypted.stdout,
    )
    if decrypted.returncode != 0 or decrypted.stdout != probe:
        if fingerprint not in _fingerprints(secret=True):
            raise EncryptionKeyError(
                f"the secret part of the backup key {fingerprint} is not in the keyring (BACKUP_GPG_KEY must be the "
                "secret key for restores)"
            )
        raise EncryptionKeyError(
            f"the backup passphrase does not unlock the backup key {fingerprint} (check BACKUP_GPG_PASSPHRASE)"
        )


# --------------------------------------------------------------------------- Barman


def _database() -> dict:
    return settings.DATABASES["default"]


def conninfo(*, replication: bool = False) -> str:
    db = _database()
    parts = {
        "host": db.get("HOST") or "127.0.0.1",
        "port": str(db.get("PORT") or 5432),
        "user": db.get("USER") or "postgres",
        "application_name": "barman",
    }
    if not replication:
        parts["dbname"] = db.get("NAME") or "postgres"
    sslmode = (db.get("OPTIONS") or {}).get("sslmode")
    if sslmode:
        parts["sslmode"] = sslmode
    return " ".join(f"{key}={value}" for key, value in parts.items())


def config_write(policy) -> Path:
    """Write Barman's configuration for the policy; returns its path. Idempotent."""
    home = Path(settings.BACKUP_DIR)
    for folder in (home, home / "log", home / "locks"):
        folder.mkdir(parents=True, exist_ok=True)
    staging_dir().mkdir(parents=True, exist_ok=True)
    bandwidth = f"bandwidth_limit = {policy.throughput_limit_mb_s * 1024}\n" if policy.throughput_limit_mb_s else ""
    text = f"""\
; Written by IntelGraph from the backup policy (apps/safety/engine.py); edit the policy in the admin instead.
[barman]
barman_home = {home}
barman_user = {getpass.getuser()}
barman_lock_directory = {home / "locks"}
log_file = {home / "log" / "barman.log"}
log_level = INFO
path_prefix = {settings.BACKUP_PG_BIN_DIR}

[{settings.BACKUP_SERVER_NAME}]
description = IntelGraph system of record
conninfo = {conninfo()}
streaming_conninfo = {conninfo(replication=True)}
backup_method = postgres
archiver = on
backup_compression = gzip
backup_compression_format = tar
compression = gzip
immediate_checkpoint = true
encryption = gpg
encryption_key_id = {key_id()}
encryption_passphrase_command = printenv {PASSPHRASE_ENV}
local_staging_path = {staging_dir()}
{bandwidth}
minimum_redundancy = 1
"""
    path = config_path()
    if not path.exists() or path.read_text() != text:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return path


def engine_env() -> dict:
    env = dict(os.environ)
    env["GNUPGHOME"] = str(settings.BACKUP_GNUPG_HOME)
    env[PASSPHRASE_ENV] = passphrase()
    env["PATH"] = f"{settings.BACKUP_PG_BIN_DIR}:{env.get('PATH', '/usr/bin:/bin')}"
    password = _database().get("PASSWORD")
    if password:
        env["PGPASSWORD"] = password
    return env


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def said(self) -> str:
        lines = [line for line in (self.stdout + "\n" + self.stderr).splitlines() if line.strip()]
        return "\n".join(lines[-12:])


def barman(*args: str, timeout: float = 3600, check: bool = True) -> Run:
    """Run ``barman -c BACKUP_DIR/barman.conf ARGS``; BackupEngineError with what it said when it fails."""
    if not config_path().exists():
        from apps.safety.models import BackupPolicy

        config_write(BackupPolicy.current())
    try:
        result = subprocess.run(
            [str(barman_bin()), "-c", str(config_path()), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=engine_env(),
        )
    except subprocess.TimeoutExpired:
        raise BackupEngineError(f"barman {' '.join(args)} did not finish within {timeout:.0f} s") from None
    run = Run(result.returncode, result.stdout, result.stderr)
    if check and run.returncode != 0:
        raise BackupEngineError(f"barman {args[0]} failed: {run.said or f'exit status {run.returncode}'}")
    return run


def barman_json(*args: str, timeout: float = 600) -> dict:
    run = barman("-f", "json", *args, timeout=timeout)
    try:
        document = json.loads(run.stdout or "{}")
    except ValueError:
        raise BackupEngineError(f"barman {args[0]} gave no JSON: {run.said}") from None
    return document.get(settings.BACKUP_SERVER_NAME, document)


def tool(name: str, *args: str, timeout: float = 3600, user: str | None = None) -> Run:
    """Run one of PostgreSQL's programs (from BACKUP_PG_BIN_DIR), as ``user`` when given (root only)."""
    prefix = ["runuser", "-u", user, "--"] if user and os.geteuid() == 0 else []
    try:
        result = subprocess.run(
            [*prefix, str(pg_bin(name)), *args], capture_output=True, text=True, timeout=timeout, env=engine_env()
        )
    except subprocess.TimeoutExpired:
        raise BackupEngineError(f"{name} did not finish within {timeout:.0f} s") from None
    return Run(result.returncode, result.stdout, result.stderr)
