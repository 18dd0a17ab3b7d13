"""Fill a Compose env file's secrets: every ``KEY=CHANGE_ME`` gets a fresh random value.

    cp .env.example .env && python3 -m grassroots.deploy.envfile .env

Values that are already set are kept (re-running is safe). ``AIRFLOW_FERNET_KEY`` gets a Fernet
key (urlsafe base64 of 32 random bytes); everything else 32 random bytes as hex, which is safe
inside database URLs.
"""

from __future__ import annotations

import base64
import os
import secrets
import sys
from pathlib import Path

from grassroots.deploy import PLACEHOLDER


def new_secret(key: str) -> str:
    if key == "AIRFLOW_FERNET_KEY":
        return base64.urlsafe_b64encode(os.urandom(32)).decode()
    return secrets.token_hex(32)


def parse(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        s = line.strip()
        if s and not s.startswith("#") and "=" in s:
            k, v = s.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def fill(text: str, overrides: dict[str, str] | None = None) -> str:
    """``text`` with each placeholder replaced by a new secret and ``overrides`` applied."""
    overrides = dict(overrides or {})
    lines = []
    for line in text.splitlines():
        s = line.strip()
        if s and not s.startswith("#") and "=" in s:
            k, v = s.split("=", 1)
            k = k.strip()
            if k in overrides:
                line = f"{k}={overrides.pop(k)}"
            elif v.strip() == PLACEHOLDER:
                line = f"{k}={new_secret(k)}"
        lines.append(line)
    lines += [f"{k}={v}" for k, v in overrides.items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    path = Path(args[0])
    text = fill(path.read_text(encoding="utf-8"))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, 0o600)
    left = [k for k, v in parse(text).items() if PLACEHOLDER in v]
    print(f"{path}: secrets filled (mode 0600){'; still CHANGE_ME: ' + ', '.join(left) if left else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
