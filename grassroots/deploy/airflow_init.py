"""The ``airflow-init`` job: ``python -m grassroots.deploy.airflow_init``.

Runs once before the Airflow services start (Compose: ``service_completed_successfully``) and
again on every ``docker compose up``; each step is idempotent.

1. refuses to go on while a secret is missing or still ``CHANGE_ME``, or the Fernet key is invalid;
2. creates the data directories (landing zone, warehouse, serving, GX/Data Docs home);
3. ``airflow db migrate`` on the metadata database (``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN``);
4. writes the simple auth manager's password file from ``AIRFLOW_ADMIN_PASSWORD`` (0600), so the
   admin password is the one in ``.env`` and is never generated into a log.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from grassroots.deploy import PLACEHOLDER, DeployError, require_secrets

SECRETS = ["AIRFLOW_ADMIN_PASSWORD", "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET",
           "AIRFLOW__API__SECRET_KEY", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
           "GRASSROOTS_HMAC_KEY"]


def _airflow() -> str:
    exe = Path(sys.executable).parent / "airflow"
    return str(exe) if exe.exists() else (shutil.which("airflow") or "airflow")


def check_secrets() -> None:
    require_secrets(SECRETS)
    from cryptography.fernet import Fernet

    try:
        Fernet(os.environ["AIRFLOW__CORE__FERNET_KEY"].encode())
    except ValueError as e:
        raise DeployError("AIRFLOW_FERNET_KEY is not a Fernet key (urlsafe base64 of 32 bytes)") from e


def data_dirs() -> list[Path]:
    e = os.environ
    home = Path(e["GRASSROOTS_HOME"])
    landing = Path(e["GRASSROOTS_LANDING"])
    dirs = [home, landing / "reference", landing / "extracts",
            Path(e["GRASSROOTS_WAREHOUSE"]).parent, Path(e["GRASSROOTS_SERVING"]).parent]
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
    return dirs


def migrate() -> None:
    t = time.monotonic()
    proc = subprocess.run([_airflow(), "db", "migrate"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise DeployError("airflow db migrate failed:\n" + (proc.stdout + proc.stderr)[-4000:])
    print(f"airflow db migrate: done in {time.monotonic() - t:.0f}s", flush=True)


def write_passwords() -> Path:
    path = Path(os.environ.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
                or Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser()
                / "simple_auth_manager_passwords.json.generated")
    users = [u.split(":")[0].strip() for u in
             os.environ.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin").split(",")
             if u.strip()]
    if users != ["admin"]:
        raise DeployError(f"only the user admin gets its password from .env, not {users}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps({"admin": os.environ["AIRFLOW_ADMIN_PASSWORD"]}) + "\n")
    os.replace(tmp, path)
    return path


def main() -> int:
    try:
        check_secrets()
        if PLACEHOLDER in os.environ.get("GRASSROOTS_SMTP_PASSWORD", ""):
            raise DeployError("GRASSROOTS_SMTP_PASSWORD is still CHANGE_ME")
        dirs = data_dirs()
        print("data directories: " + ", ".join(map(str, dirs)), flush=True)
        migrate()
        print(f"admin password file: {write_passwords()}", flush=True)
    except DeployError as e:
        print(f"airflow-init: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
