"""Real delivery servers on localhost for the pull tests: Debian's OpenSSH server (key
authentication, one system user per facility, SFTP only) and moto's S3-compatible server.

The SSH server needs root (a user per facility, privilege separation) and /usr/sbin/sshd
(Debian package openssh-server, installed by `grassroots test`).  Everything it creates — users,
keys, folders — goes when the context ends.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from grassroots.install import require

SSHD = "/usr/sbin/sshd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 20) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: "
                               f"{proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            kids = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        out += [int(k) for k in kids]
        todo += [int(k) for k in kids]
    return out


class SftpServer:
    """``/usr/sbin/sshd -D`` on a free port, one user per facility with its own key pair and
    outbox folder (``<root>/<user>/outbox``)."""

    def __init__(self, facilities: list[str]) -> None:
        require(SSHD)
        if os.geteuid() != 0:
            raise RuntimeError("the SFTP server fixture needs root (useradd, sshd)")
        self.facilities = facilities
        self.tag = uuid.uuid4().hex[:6]
        self.users = {f: f"grp{self.tag}{i}" for i, f in enumerate(facilities)}
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.made_run_dir = False

    def __enter__(self) -> SftpServer:
        # readable by the facility users: not under pytest's 0700 temp root
        self.dir = Path(tempfile.mkdtemp(prefix="grassroots-sftp-"))
        self.dir.chmod(0o755)
        try:
            self._setup()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _setup(self) -> None:
        d = self.dir
        (d / "keys").mkdir(mode=0o755)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                        str(d / "host_key")], check=True)
        for fac, user in self.users.items():
            subprocess.run(["useradd", "-M", "-N", "-d", "/nonexistent", "-s",
                            "/usr/sbin/nologin", "-p", "*", user], check=True)
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                            str(d / f"client_{user}")], check=True)
            shutil.copy(d / f"client_{user}.pub", d / "keys" / user)
            (d / "keys" / user).chmod(0o644)
            self.outbox(fac).mkdir(parents=True)
            self.chown(fac)
        (d / "sshd_config").write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {d / 'host_key'}",
            f"PidFile {d / 'sshd.pid'}", f"AuthorizedKeysFile {d / 'keys'}/%u",
            "PubkeyAuthentication yes", "PasswordAuthentication no",
            "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no",
            "PermitRootLogin no", f"AllowUsers {' '.join(self.users.values())}",
            "Subsystem sftp internal-sftp", "ForceCommand internal-sftp",
            "AllowTcpForwarding no", "X11Forwarding no", "LogLevel ERROR", ""]))
        if not Path("/run/sshd").is_dir():  # privilege separation directory
            Path("/run/sshd").mkdir(mode=0o755)
            self.made_run_dir = True
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(d / "sshd_config")],
                                     stderr=subprocess.PIPE)
        wait_port(self.port, self.proc)

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            sessions = _descendants(self.proc.pid)  # one sshd per open connection
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            for pid in sessions:
                try:
                    os.kill(pid, 15)
                except ProcessLookupError:
                    pass
        for user in self.users.values():
            # a session still closing keeps its user busy for a moment
            for _ in range(50):
                if subprocess.run(["userdel", user], capture_output=True).returncode in (0, 6):
                    break  # 6: no such user
                time.sleep(0.1)
        if self.made_run_dir:
            shutil.rmtree("/run/sshd", ignore_errors=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def outbox(self, facility: str) -> Path:
        return self.dir / "home" / self.users[facility] / "outbox"

    def chown(self, facility: str) -> None:
        """Give the facility's user what was written into its area (as its upload would)."""
        user = self.users[facility]
        subprocess.run(["chown", "-R", f"{user}:users", str(self.dir / "home" / user)],
                       check=True)

    def connection(self, facility: str, port: int | None = None) -> str:
        """An Airflow connection (JSON, for ``AIRFLOW_CONN_<ID>``) for the facility's user."""
        user = self.users[facility]
        kind, key = (self.dir / "host_key.pub").read_text().split()[0:2]
        return json.dumps({"conn_type": "sftp", "host": "127.0.0.1",
                           "port": port or self.port, "login": user,
                           "extra": {"key_file": str(self.dir / f"client_{user}"),
                                     "host_key": f"{kind} {key}"}})


class S3Server:
    """moto's S3-compatible server (``ThreadedMotoServer``) on a free port."""

    KEY, SECRET = "testing-key", "testing-secret"

    def __init__(self) -> None:
        self.port = free_port()

    def __enter__(self) -> S3Server:
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        wait_port(self.port)
        return self

    def __exit__(self, *exc) -> None:
        self.server.stop()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=self.KEY,
                            aws_secret_access_key=self.SECRET, region_name="us-east-1")

    def connection(self) -> str:
        return json.dumps({"conn_type": "aws", "login": self.KEY, "password": self.SECRET,
                           "extra": {"endpoint_url": self.endpoint,
                                     "region_name": "us-east-1"}})

    def env(self) -> dict[str, str]:
        """What s3fs/botocore read for ``s3://`` URLs outside Airflow."""
        return {"AWS_ACCESS_KEY_ID": self.KEY, "AWS_SECRET_ACCESS_KEY": self.SECRET,
                "AWS_ENDPOINT_URL": self.endpoint, "AWS_DEFAULT_REGION": "us-east-1"}

    def upload(self, bucket: str, prefix: str, folder: Path, skip: set[str] = frozenset()
               ) -> None:
        """Upload a folder's files under ``prefix`` (``manifest.json`` last, as facilities do);
        names in ``skip`` are left out."""
        c = self.client()
        files = sorted((p for p in folder.rglob("*") if p.is_file() and p.name not in skip),
                       key=lambda p: (p.name == "manifest.json", str(p)))
        for p in files:
            c.put_object(Bucket=bucket, Key=f"{prefix}/{p.relative_to(folder)}",
                         Body=p.read_bytes())
