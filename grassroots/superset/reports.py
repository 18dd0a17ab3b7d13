"""Scheduled reports and threshold alerts: Superset's Alerts & Reports, configured from the repository.

``dashboards/reports.yml`` says what is sent, when and to whom; :func:`sync` creates or updates the
schedules in Superset (idempotent, matched by key), :func:`start_workers` runs the Celery worker
and beat that execute them (broker: a Redis database of its own), :func:`run_now` queues one at
once and :func:`log` reads Superset's execution log. Screenshots (PDF, PNG) are taken by Debian's
Chromium; mail goes through the SMTP server of the daily data-quality message
(``GRASSROOTS_SMTP_*``, see ``grassroots/deploy/reports_config.py``).

    python -m grassroots.superset.reports sync [home] [serving]
    python -m grassroots.superset.reports run <key> [home]
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import yaml

from grassroots.deploy.reports_config import CHROMEDRIVER, CHROMIUM
from grassroots.superset.manage import (
    ASSETS,
    ROOT,
    VENV,
    SupersetError,
    run_inside,
    superset_env,
)
from grassroots.superset.manage import (
    stop as stop_server,
)

REPORTS_YML = ROOT / "dashboards" / "reports.yml"
INSIDE = Path(__file__).with_name("_reports_inside.py")
DATABASE = "grassroots_serving"
DEFAULT_REDIS = "redis://127.0.0.1:6379/7"  # the demo's broker: a database no cache uses
FORMATS = {"PDF", "PNG", "CSV", "TEXT"}
_CTX = re.compile(r"\{(facility_code|facility_name|username|email)\}")  # for_each fields
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^${}]*))?\}")


class ReportsError(SupersetError):
    pass


# ------------------------------------------------------------------------------------------
# configuration


def expand(text: str, env: dict[str, str]) -> str:
    """``${VAR}`` and ``${VAR:-default}`` (nested) from ``env``; unset and empty read as ''."""
    while True:
        new = _VAR.sub(lambda m: env.get(m.group(1)) or (m.group(2) or ""), text)
        if new == text:
            return new
        text = new


def _addresses(value: str | None, env: dict[str, str]) -> list[str]:
    return [a.strip() for a in re.split(r"[,;\s]+", expand(value or "", env)) if a.strip()]


def _chart_uuid(key: str, assets: Path = ASSETS) -> str:
    path = assets / "charts" / f"{key}.yaml"
    if not path.is_file():
        raise ReportsError(f"unknown chart {key!r}: no {path.relative_to(ROOT)}")
    return str(yaml.safe_load(path.read_text(encoding="utf-8"))["uuid"])


def catalogue_targets(serving: Path) -> dict[str, float]:
    with duckdb.connect(str(serving), read_only=True) as con:
        rows = con.execute("select code, target from reference.metric_catalogue "
                           "where target is not null").fetchall()
    return {c: float(t) for c, t in rows}


def _sql(sql: str, targets: dict[str, float]) -> str:
    """``{target:<code>}`` becomes a sub-query on the catalogue (the serving file's, at run time)."""
    def sub(m: re.Match) -> str:
        code = m.group(1)
        if code not in targets:
            raise ReportsError(f"no target for {code!r} in the metric catalogue "
                               f"(known: {', '.join(sorted(targets))})")
        return f"(select target from reference.metric_catalogue where code = '{code}')"
    return re.sub(r"\{target:([a-z0-9_]+)\}", sub, sql)


def _item(entry: dict, kind: str, ctx: dict, tz: str, env: dict[str, str],
          targets: dict[str, float]) -> dict:
    unknown = set(entry) - {"key", "name", "description", "dashboard", "chart", "format", "crontab",
                            "owner", "email", "webhook", "for_each", "sql", "grace_period",
                            "working_timeout", "active", "timezone", "log_retention"}
    if unknown:
        raise ReportsError(f"unknown setting(s) {sorted(unknown)}")
    fmt = str(entry.get("format", "PNG")).upper()
    if fmt not in FORMATS:
        raise ReportsError(f"format {fmt!r} is not one of {sorted(FORMATS)}")
    if bool(entry.get("dashboard")) == bool(entry.get("chart")):
        raise ReportsError("give exactly one of dashboard: <slug> or chart: <key>")
    fill = lambda s: _CTX.sub(lambda m: str(ctx[m.group(1)]), str(s))  # noqa: E731
    item = {
        "key": fill(entry["key"]) + (f"__{ctx['facility_code']}" if ctx else ""),
        "type": kind, "name": fill(entry["name"]), "description": fill(entry.get("description", "")),
        "crontab": str(entry["crontab"]), "timezone": entry.get("timezone", tz),
        "report_format": fmt, "owner": fill(entry["owner"]), "active": entry.get("active", True),
        "working_timeout": int(entry.get("working_timeout", 1800)),
        "log_retention": int(entry.get("log_retention", 90)),
        "dashboard": entry.get("dashboard"),
        "email": _addresses(fill(entry["email"]) if entry.get("email") else "", env),
        "webhook": _addresses(entry.get("webhook"), env),
    }
    if entry.get("chart"):
        item["chart_key"] = entry["chart"]
        item["chart"] = _chart_uuid(entry["chart"])
    if kind == "Alert":
        if not entry.get("sql"):
            raise ReportsError("an alert needs sql:")
        item.update(sql=_sql(entry["sql"], targets), database=DATABASE,
                    validator={"op": ">", "threshold": 0},
                    grace_period=int(entry.get("grace_period", 86400)))
    return item


def load(config: Path, users: list[dict], targets: dict[str, float],
         env: dict[str, str] | None = None) -> list[dict]:
    """The schedules of ``config``, expanded: one per hospital manager for ``for_each``. Raises
    ReportsError naming every bad entry."""
    env = dict(os.environ if env is None else env)
    doc = yaml.safe_load(Path(config).read_text(encoding="utf-8")) or {}
    tz = doc.get("timezone", "Asia/Shanghai")
    items, errors = [], []
    entries = [("Report", e) for e in doc.get("reports") or []]
    entries += [("Alert", {**(doc.get("alert_defaults") or {}), **e}) for e in doc.get("alerts") or []]
    for kind, entry in entries:
        contexts: list[dict] = [{}]
        if entry.get("for_each") == "hospital_manager":
            contexts = [{"facility_code": u["facility_code"], "facility_name": u["first_name"],
                         "username": u["username"], "email": u["email"]}
                        for u in users if u.get("facility_code")]
        elif entry.get("for_each"):
            errors.append(f"{entry.get('key')}: for_each must be hospital_manager")
            continue
        for ctx in contexts:
            try:
                items.append(_item(entry, kind, ctx, tz, env, targets))
            except (ReportsError, KeyError, ValueError) as e:
                errors.append(f"{entry.get('key', '?')}: {e if not isinstance(e, KeyError) else f'missing {e}'}")
    if errors:
        raise ReportsError(f"{config}: " + "; ".join(errors))
    return items


# ------------------------------------------------------------------------------------------
# Superset


def _inside(home: Path, *args: str, venv: Path = VENV) -> dict:
    return run_inside(INSIDE, home, *args, venv=venv, error=ReportsError)


def _users(home: Path) -> list[dict]:
    path = Path(home) / "users.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []


def sync(home: Path, serving: Path, *, config: Path = REPORTS_YML, venv: Path = VENV,
         env: dict[str, str] | None = None) -> dict:
    """Create or update every schedule of ``config`` (prune the ones no longer there).

    Raises ReportsError when an entry is bad — in the file (before anything is written) or on the
    server (Superset's own validation: cron, time zone, addresses; the good entries are synced).
    """
    items = load(config, _users(home), catalogue_targets(serving), env)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
        json.dump({"items": items}, f, ensure_ascii=False)
    try:
        os.chmod(f.name, 0o600)
        result = _inside(home, "sync", f.name, venv=venv)
    finally:
        os.unlink(f.name)
    if result["errors"]:
        raise ReportsError("Superset refused: " + "; ".join(
            f"{e['key']} ({e['name']}): {e['error']}" for e in result["errors"]))
    return result


def run_now(home: Path, key: str, *, venv: Path = VENV) -> dict:
    """Queue the schedule ``key`` for the worker now (as the beat would at its time)."""
    return _inside(home, "run", key, venv=venv)


def log(home: Path, key: str, n: int = 5, *, venv: Path = VENV) -> dict:
    return _inside(home, "log", key, str(n), venv=venv)


# Superset logs a failed execution twice: the error itself, then (once the owners have been
# mailed about it) this marker as the newest entry, which hides the cause.
NOTIFIED_MARKER = "Notification sent with error"


def _cause(entry: dict, entries: list[dict]) -> dict:
    """``{"cause": ...}``: the error behind a "Notification sent with error" entry, from the entry of
    the same execution (same scheduled time) that carries it, without chromedriver's stack of
    addresses; empty when there is nothing to add."""
    if entry.get("error_message") != NOTIFIED_MARKER:
        return {}
    causes = [e["error_message"] for e in entries
              if e["scheduled_dttm"] == entry["scheduled_dttm"] and e["error_message"]
              and e["error_message"] != NOTIFIED_MARKER]
    return {"cause": causes[0].split("\nStacktrace:")[0].strip()} if causes else {}


def wait_for_log(home: Path, key: str, *, after: int = 0, timeout: float = 300,
                 venv: Path = VENV) -> dict:
    """The newest finished execution-log entry once there are more than ``after`` entries and the
    schedule is no longer Working (with the schedule's ``last_state``)."""
    deadline = time.monotonic() + timeout
    while True:
        got = log(home, key, after + 10, venv=venv)
        done = [e for e in got["log"] if e["state"] != "Working"]
        if len(got["log"]) > after and got["last_state"] != "Working" and done:
            return done[0] | {"last_state": got["last_state"], "entries": len(got["log"]),
                              **_cause(done[0], got["log"])}
        if time.monotonic() > deadline:
            raise ReportsError(f"{key}: no finished execution after {timeout}s: {got}")
        time.sleep(3)


# ------------------------------------------------------------------------------------------
# the generated superset_config.py, worker and beat


def queue_name(home: Path) -> str:
    return "grassroots_" + hashlib.sha256(str(Path(home).resolve()).encode()).hexdigest()[:10]


def config_block(home: Path, port: int) -> str:
    """Lines appended to the demo's generated superset_config.py (after its sys.path line, which
    makes grassroots.deploy importable): this module's settings."""
    redis_url = os.environ.get("GRASSROOTS_REPORTS_REDIS_URL") or DEFAULT_REDIS
    return (
        "\n# Alerts & Reports: grassroots/deploy/reports_config.py (SMTP from GRASSROOTS_SMTP_*)\n"
        "from grassroots.deploy.reports_config import settings as _reports_settings\n"
        f"_r = _reports_settings(redis_url={redis_url!r}, base_url='http://127.0.0.1:{port}/',\n"
        f"                       queue={queue_name(home)!r})\n"
        "FEATURE_FLAGS.update(_r.pop('FEATURE_FLAGS'))\n"
        "globals().update(_r)\n"
    )


def browser_missing() -> list[str]:
    return [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]


def _pid(path: Path) -> int | None:
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def _celery(home: Path, venv: Path, role: str) -> list[str]:
    base = [str(venv / "bin" / "celery"), "--app=superset.tasks.celery_app:app"]
    if role == "worker":
        return base + ["worker", "--pool=prefork", "--concurrency=2", "-O", "fair", "--loglevel=INFO",
                       f"--hostname={queue_name(home)}@%h", f"--queues={queue_name(home)}"]
    return base + ["beat", "--loglevel=INFO", f"--schedule={Path(home) / 'celerybeat-schedule'}",
                   f"--pidfile={Path(home) / 'celerybeat.celery.pid'}"]


def start_workers(home: Path, *, venv: Path = VENV, wait: float = 120) -> dict[str, int]:
    """Start the Celery worker and beat (pids in home/celery-<role>.pid); wait until the worker
    is ready. Already running ones are kept."""
    home = Path(home).resolve()
    _check_redis(os.environ.get("GRASSROOTS_REPORTS_REDIS_URL") or DEFAULT_REDIS)
    pids = {}
    for role in ("worker", "beat"):
        pidfile = home / f"celery-{role}.pid"
        pid = _pid(pidfile)
        if pid is None:
            logf = home / f"celery-{role}.log"
            with open(logf, "ab") as out:
                proc = subprocess.Popen(_celery(home, venv, role), env=superset_env(home), stdout=out,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True, cwd=home)
            pid = proc.pid
            pidfile.write_text(str(pid))
            if role == "worker":
                _wait_ready(logf, proc, wait)
        pids[role] = pid
    return pids


def _check_redis(url: str) -> None:
    from urllib.parse import urlsplit

    u = urlsplit(url)
    try:
        socket.create_connection((u.hostname or "127.0.0.1", u.port or 6379), timeout=3).close()
    except OSError as e:
        raise ReportsError(f"no Redis at {u.hostname}:{u.port or 6379} for the reports' Celery "
                           f"broker (GRASSROOTS_REPORTS_REDIS_URL): {e}") from e


def _wait_ready(logf: Path, proc: subprocess.Popen, wait: float) -> None:
    start = logf.stat().st_size if logf.exists() else 0
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ReportsError(f"celery worker exited ({proc.returncode}); see {logf}")
        with open(logf, "rb") as f:
            f.seek(start)
            if b" ready." in f.read():
                return
        time.sleep(1)
    raise ReportsError(f"celery worker not ready after {wait}s; see {logf}")


def stop_workers(home: Path, timeout: float = 20) -> list[str]:
    """Stop the worker, beat and mailbox started here; returns the roles stopped."""
    home = Path(home).resolve()
    stopped = []
    for role in ("beat", "worker", "mailsink"):
        pidfile = home / (f"celery-{role}.pid" if role != "mailsink" else "mailsink.pid")
        pid = _pid(pidfile)
        if pid is not None:
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + timeout
            while _pid(pidfile) is not None and time.monotonic() < deadline:
                try:
                    if os.waitpid(pid, os.WNOHANG)[0] == pid:
                        break
                except ChildProcessError:
                    pass
                time.sleep(0.3)
            else:
                if _pid(pidfile) is not None:
                    os.killpg(pid, signal.SIGKILL)
            stopped.append(role)
        pidfile.unlink(missing_ok=True)
    return stopped


def stop_all(home: Path) -> list[str]:
    """Stop everything started under ``home``: the worker, beat and mailbox, then the Superset
    server; returns what was running."""
    return stop_workers(home) + (["superset"] if stop_server(home) else [])


DEMO_SMTP_PORT = 2525


def start_mailsink(home: Path, port: int = DEMO_SMTP_PORT) -> Path | None:
    """The demo's mailbox (``grassroots.superset.mailsink``): mails kept in home/mail/ as .eml;
    None when aiosmtpd is not installed."""
    import importlib.util

    if importlib.util.find_spec("aiosmtpd") is None:
        return None
    home = Path(home).resolve()
    folder, pidfile = home / "mail", home / "mailsink.pid"
    if _pid(pidfile) is None:
        with open(home / "mailsink.log", "ab") as out:
            proc = subprocess.Popen([sys.executable, "-m", "grassroots.superset.mailsink", str(folder),
                                     str(port)], stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True, cwd=ROOT)
        pidfile.write_text(str(proc.pid))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.3)
    return folder


def setup(home: Path, serving: Path, *, venv: Path = VENV) -> dict:
    """The demo's part: sync the schedules, start worker and beat (with no SMTP server
    configured, a local mailbox first). Returns what to tell the user."""
    mailbox = None
    if not os.environ.get("GRASSROOTS_SMTP_HOST"):
        mailbox = start_mailsink(home)
        if mailbox is not None:  # the worker started below inherits these
            os.environ.update(GRASSROOTS_SMTP_HOST="127.0.0.1", GRASSROOTS_SMTP_PORT=str(DEMO_SMTP_PORT))
    result = sync(home, serving, venv=venv)
    pids = start_workers(home, venv=venv)
    return {"sync": result, "pids": pids, "browser_missing": browser_missing(), "mailbox": mailbox}


def summary(home: Path, info: dict) -> str:
    """The demo's closing words on reports: where they go, how to send one now."""
    home = Path(home)
    env = os.environ
    lines = [f"Reports and alerts (dashboards/reports.yml): worker and beat running "
             f"(logs {home / 'celery-worker.log'}, {home / 'celery-beat.log'}).",
             (f"  mail: no GRASSROOTS_SMTP_HOST configured, so every mail is kept in {info['mailbox']}"
              " (.eml files; set GRASSROOTS_SMTP_* for a real server)" if info.get("mailbox") else
              f"  mail via {env.get('GRASSROOTS_SMTP_HOST') or 'localhost'}:"
              f"{env.get('GRASSROOTS_SMTP_PORT') or 25} (GRASSROOTS_SMTP_*)"),
             "  recipients from .env (GRASSROOTS_REPORTS_*_TO) or Superset's UI (设置 → 告警和报告), "
             "else the owner's address",
             "  send one now:  uv run grassroots reports --run weekly_overview   "
             "(then: uv run grassroots reports --log weekly_overview)"]
    if info.get("browser_missing"):
        lines.append(f"  [!] no {', '.join(info['browser_missing'])}: PDF and PNG reports will fail "
                     "(apt-get install chromium chromium-driver, or `uv run grassroots test`, which "
                     "installs them); alerts with TEXT content still work")
    return "\n".join(lines)


def main(argv: list[str]) -> int:  # pragma: no cover - a thin command line
    """``sync [home] [serving]`` or ``run <key> [home]``; in the Superset image, its own Python."""
    import importlib.util

    venv = Path(sys.prefix) if importlib.util.find_spec("superset") else VENV
    action, rest = (argv[0], argv[1:]) if argv else ("sync", [])
    default_home = Path(os.environ.get("SUPERSET_HOME") or ROOT / "var" / "superset")
    if action == "sync":
        home = Path(rest[0]) if rest else default_home
        serving = Path(rest[1]) if len(rest) > 1 else Path(os.environ.get("GRASSROOTS_SERVING")
                                                             or ROOT / "var" / "serving.duckdb")
        print(json.dumps(sync(home, serving, venv=venv), ensure_ascii=False))
    elif action == "run" and rest:
        print(json.dumps(run_now(Path(rest[1]) if len(rest) > 1 else default_home, rest[0], venv=venv),
                         ensure_ascii=False))
    else:
        raise SystemExit(__doc__)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
