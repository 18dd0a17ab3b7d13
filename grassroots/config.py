"""Configuration: paths and the HMAC key, from the environment with demo-friendly defaults."""

from __future__ import annotations

import os
import secrets
from datetime import date
from pathlib import Path

from grassroots.errors import RunError

KEY_ENV = "GRASSROOTS_HMAC_KEY"
KEY_FILE_ENV = "GRASSROOTS_HMAC_KEY_FILE"


class ConfigError(RunError):
    """The configuration cannot be used as it is (the HMAC key)."""


def key_path_for(warehouse: Path) -> Path:
    return Path(os.environ.get(KEY_FILE_ENV) or warehouse.parent / "secrets" / "hmac.key")


def load_hmac_key(warehouse: Path, *, create: bool = True) -> tuple[bytes, str]:
    """The secret for hashing id numbers, and where it came from.

    ``GRASSROOTS_HMAC_KEY`` (the secret itself) wins; else the file named by
    ``GRASSROOTS_HMAC_KEY_FILE``; else ``<warehouse dir>/secrets/hmac.key``, created with a random
    key on first use (the demo).  The key must never change for a warehouse: hashes would no
    longer link a person across loads.
    """
    if os.environ.get(KEY_ENV):
        return os.environ[KEY_ENV].encode(), f"${KEY_ENV}"
    path = key_path_for(warehouse)
    try:
        if path.is_file():
            key = path.read_text().strip()
            if not key:
                raise ConfigError(f"HMAC key file {path} is empty")
            return key.encode(), str(path)
        if not create:
            raise FileNotFoundError(f"no HMAC key: set ${KEY_ENV} or create {path}")
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
        return path.read_text().strip().encode(), f"{path} (created)"
    except (OSError, UnicodeDecodeError) as e:
        if not create and isinstance(e, FileNotFoundError):
            raise
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise ConfigError(f"cannot read or create the HMAC key file {path}: {why} (set "
                          f"${KEY_ENV}, or ${KEY_FILE_ENV} to a file you can read)") from e


# The region `grassroots demo` generates (and the calibration test checks): a completed year and
# a year still running.
DEMO_REGION = {"residents": 20_000, "start": date(2024, 1, 1), "end": date(2025, 3, 31), "seed": 7}
