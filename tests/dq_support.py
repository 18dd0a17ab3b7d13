"""Helpers for the orchestration and data-quality tests: an isolated Airflow home, a real local
SMTP server (aiosmtpd) and a local HTTP webhook receiver, and landing-zone surgery.

Import this module before anything imports ``airflow``: Airflow reads its configuration once.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# One Airflow home (SQLite metadata) for the whole pytest session.
AIRFLOW_HOME = Path(os.environ.get("GRASSROOTS_TEST_AIRFLOW_HOME")
                    or tempfile.mkdtemp(prefix="grassroots-airflow-"))
os.environ.update({
    "AIRFLOW_HOME": str(AIRFLOW_HOME),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
    "AIRFLOW__CORE__PARALLELISM": "4",
    "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
    "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "180",  # cosmos runs `dbt ls` while parsing
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    "GX_ANALYTICS_ENABLED": "False",
})

_migrated = False


def migrate_airflow_db() -> None:
    global _migrated
    if _migrated or (AIRFLOW_HOME / "airflow.db").exists() and (AIRFLOW_HOME / ".migrated").exists():
        _migrated = True
        return
    exe = Path(sys.executable).parent / "airflow"
    subprocess.run([str(exe), "db", "migrate"], check=True, capture_output=True, env=os.environ)
    (AIRFLOW_HOME / ".migrated").write_text("ok")
    _migrated = True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpSink:
    """A real SMTP server on localhost (aiosmtpd) keeping every message it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list = []
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802
                sink.messages.append(message_from_bytes(envelope.content, policy=policy.default))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    def env(self) -> dict[str, str]:
        return {"GRASSROOTS_SMTP_HOST": "127.0.0.1", "GRASSROOTS_SMTP_PORT": str(self.port),
                "GRASSROOTS_SMTP_TLS": "none", "GRASSROOTS_SMTP_FROM": "dq@grassroots.test",
                "GRASSROOTS_SMTP_TO": "ops@grassroots.test,commission@grassroots.test"}

    @staticmethod
    def text(msg) -> tuple[str, str]:
        return str(msg["Subject"]), msg.get_body(preferencelist=("plain",)).get_content()


class HttpSink:
    """A local HTTP server answering like a WeCom/DingTalk robot, keeping every JSON body."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                n = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(n)
                sink.requests.append({"path": self.path, "json": json.loads(body.decode("utf-8")),
                                      "content_type": self.headers.get("Content-Type")})
                out = b'{"errcode":0,"errmsg":"ok"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *a):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> HttpSink:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str = "/cgi-bin/webhook/send?key=test") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


# ---------------------------------------------------------------------------------------------
# Landing-zone surgery: change a delivered file and keep its manifest consistent


def rewrite_dataset(folder: Path, dataset: str, change) -> None:
    """Apply ``change(header, rows) -> rows`` to a dataset's CSV in a facility-day folder and
    update the manifest's row count and sha256 (the folder stays complete)."""
    mpath = folder / "manifest.json"
    m = json.loads(mpath.read_text(encoding="utf-8-sig"))
    entry = next(e for e in m["files"] if e["dataset"] == dataset)
    path = folder / entry["file"]
    codec = "gb18030" if m.get("encoding", "utf-8").lower() == "gbk" else "utf-8-sig"
    text = path.read_bytes().decode(codec)
    rows = list(csv.reader(io.StringIO(text)))
    header, body = rows[0], rows[1:]
    body = change(header, body)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(body)
    data = buf.getvalue().encode("gbk" if codec == "gb18030" else "utf-8")
    path.write_bytes(data)
    entry["rows"] = len(body)
    entry["sha256"] = hashlib.sha256(data).hexdigest()
    mpath.write_text(json.dumps(m, ensure_ascii=False, indent=2), encoding="utf-8")
