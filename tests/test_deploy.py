"""Deployment: ``docker-compose.yml`` is valid, and its configuration works — run natively.

There is no Docker engine here, so the Compose file is proven two ways:

1. ``docker-compose config`` (Debian's docker-compose 1.29, installed by `grassroots test`)
   validates it with ``.env.example`` and lists the services; static checks tie it to the
   Dockerfiles, the locks and ``.env.example``.
2. The *resolved* Compose configuration (``docker-compose config`` with a filled env file whose
   database names are ``gr_test_*_<random>`` and whose PostgreSQL host is the local server) is
   run natively: ``grassroots/deploy/postgres-init.sh`` with the ``postgres`` service's
   environment creates the roles and databases on this machine's PostgreSQL; the
   ``airflow-init`` service's environment and command migrate Airflow onto PostgreSQL; the
   ``airflow-scheduler`` service's environment (where LocalExecutor runs the tasks) runs
   ``airflow dags test grassroots_daily`` on a small generated region; the ``superset-init``
   service's environment and command bootstrap Superset on PostgreSQL metadata and import the
   bundle, pointing at the serving file that DAG run published.

   Only what cannot exist outside containers is translated, by the table ``CONTAINER_PATHS``
   (volume mount points -> a temporary directory, the image's project dir -> this repository)
   and the Redis address (the local Redis has no password). Passwords are set on the roles, but
   the local server trusts 127.0.0.1, so they are not verified here. The databases and roles are
   dropped at the end.
"""

from __future__ import annotations

import ast
import json
import os
import re
import secrets
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
import yaml

from grassroots.install import require

REPO = Path(__file__).resolve().parent.parent
COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
DEPLOY = REPO / "grassroots" / "deploy"
VENV_BIN = Path(sys.executable).parent

SERVICES = {"postgres", "redis", "airflow-init", "airflow-api-server", "airflow-scheduler",
            "airflow-dag-processor", "airflow-triggerer", "superset-init", "superset",
            "superset-worker", "superset-beat", "superset-sync",
            "minio"}  # minio: the optional S3-compatible store (profile s3)
AIRFLOW_SERVICES = {"airflow-init", "airflow-api-server", "airflow-scheduler",
                    "airflow-dag-processor", "airflow-triggerer"}
INIT_JOBS = {"airflow-init", "superset-init"}

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
REGION = {"residents": 800, "start": date(2025, 3, 1), "end": date(2025, 3, 5), "seed": 11}
LOGICAL_DATE = "2025-03-06T07:00:00+08:00"  # the 07:00 run that processes business date 03-05


# ------------------------------------------------------------------------------------------
# docker-compose


@pytest.fixture(scope="session")
def compose_bin() -> str:
    """Debian's docker-compose (validates without an engine), installed by `grassroots test`."""
    return require("/usr/bin/docker-compose")


def _compose_env() -> dict[str, str]:
    # Compose interpolates from the process environment before the env file: keep only the basics
    return {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "LC_ALL") if k in os.environ}


def compose(compose_bin: str, env_file: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([compose_bin, "-f", str(COMPOSE), "--env-file", str(env_file), *args],
                          cwd=REPO, env=_compose_env(), capture_output=True, text=True)


def resolved(compose_bin: str, env_file: Path) -> dict:
    proc = compose(compose_bin, env_file, "config")
    assert proc.returncode == 0, proc.stderr
    return yaml.safe_load(proc.stdout)


def env_vars(path: Path) -> dict[str, str]:
    from grassroots.deploy.envfile import parse

    return parse(path.read_text(encoding="utf-8"))


def test_compose_config_validates_and_lists_services(compose_bin):
    proc = compose(compose_bin, ENV_EXAMPLE, "config")
    assert proc.returncode == 0, proc.stderr
    services = compose(compose_bin, ENV_EXAMPLE, "config", "--services")
    assert services.returncode == 0, services.stderr
    assert set(services.stdout.split()) == SERVICES
    volumes = compose(compose_bin, ENV_EXAMPLE, "config", "--volumes")
    assert {"landing", "archive", "warehouse", "serving"} <= set(volumes.stdout.split())


def test_compose_refuses_missing_secrets(compose_bin, tmp_path):
    example = env_vars(ENV_EXAMPLE)
    for secret in ("GRASSROOTS_HMAC_KEY", "AIRFLOW_DB_PASSWORD", "SUPERSET_SECRET_KEY"):
        env = tmp_path / f"without-{secret}.env"
        env.write_text("".join(f"{k}={v}\n" for k, v in example.items() if k != secret))
        proc = compose(compose_bin, env, "config")
        assert proc.returncode != 0
        assert f"set {secret} in .env" in proc.stderr, proc.stderr


def test_every_variable_is_in_env_example_and_every_secret_is_a_placeholder():
    text = "\n".join(line for line in COMPOSE.read_text(encoding="utf-8").splitlines()
                     if not line.lstrip().startswith("#"))
    used = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", text))  # $${…} is the container's own
    required = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+):\?", text))
    example = env_vars(ENV_EXAMPLE)
    assert used == set(example), (used ^ set(example))
    # every required variable is a secret: .env.example must not ship a usable value
    assert required and all(example[k] == "CHANGE_ME" for k in required), \
        {k: example[k] for k in required if example[k] != "CHANGE_ME"}
    for k in ("GRASSROOTS_SMTP_PASSWORD", "GRASSROOTS_WEBHOOK_URL", "GRASSROOTS_WEBHOOK_SECRET"):
        assert example[k] == ""  # optional secrets: off unless set
    # no secret written into the compose file itself
    for line in text.splitlines():
        m = re.match(r"\s*([A-Z0-9_]*(PASSWORD|SECRET|KEY)[A-Z0-9_]*):\s*(.+)$", line)
        if m and not m.group(1).endswith("_FILE"):
            assert "${" in m.group(3), line


def test_services_healthchecks_start_order_and_volumes(compose_bin):
    cfg = resolved(compose_bin, ENV_EXAMPLE)
    svc = cfg["services"]
    for name, s in svc.items():
        if name not in INIT_JOBS:
            assert "healthcheck" in s, name
    dep = {n: s.get("depends_on", {}) for n, s in svc.items()}
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        assert dep[name]["postgres"]["condition"] == "service_healthy"
        assert dep[name]["airflow-init"]["condition"] == "service_completed_successfully"
    assert dep["airflow-init"]["postgres"]["condition"] == "service_healthy"
    for name in ("superset", "superset-sync"):
        assert dep[name]["superset-init"]["condition"] == "service_completed_successfully"
    for name in ("superset", "superset-init", "superset-sync"):
        assert dep[name]["postgres"]["condition"] == "service_healthy"
        assert dep[name]["redis"]["condition"] == "service_healthy"
    # official images
    assert svc["postgres"]["image"].startswith("postgres:")
    assert "apache/airflow:3.3.2-python3.11" in (DEPLOY / "airflow.Dockerfile").read_text()
    assert "apache/superset:6.1.0" in (DEPLOY / "superset.Dockerfile").read_text()
    for name in AIRFLOW_SERVICES:
        assert svc[name]["build"]["dockerfile"] == "grassroots/deploy/airflow.Dockerfile"
    assert svc["superset"]["build"]["dockerfile"] == "grassroots/deploy/superset.Dockerfile"
    assert svc["airflow-init"]["command"] == ["python", "-m", "grassroots.deploy.airflow_init"]
    assert svc["superset-init"]["command"] == ["python", "-m", "grassroots.deploy.superset_init"]
    assert svc["superset-sync"]["command"] == ["python", "-m", "grassroots.deploy.superset_sync"]

    def mounts(name: str) -> dict[str, tuple[str, bool]]:
        out = {}
        for v in svc[name].get("volumes", []):
            if isinstance(v, str):
                src, dst, *mode = v.split(":")
                out[dst] = (src, bool(mode) and "ro" in mode[0])
            else:
                out[v["target"]] = (v.get("source"), bool(v.get("read_only")))
        return out

    def mounted(name: str, path: str) -> tuple[str, bool] | None:
        best = max((t for t in mounts(name) if path == t or path.startswith(t + "/")),
                   key=len, default=None)
        return mounts(name)[best] if best else None

    air = svc["airflow-scheduler"]["environment"]
    for name in AIRFLOW_SERVICES:
        env = svc[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
        # every data path of the pipeline is on a named volume, writable
        for key in ("GRASSROOTS_HOME", "GRASSROOTS_LANDING", "GRASSROOTS_WAREHOUSE",
                    "GRASSROOTS_SERVING"):
            m = mounted(name, env[key])
            assert m and m[0] and not m[1], (name, key, m)
        archive = str(Path(env["GRASSROOTS_WAREHOUSE"]).parent / "archive")  # ingest's default
        assert mounted(name, archive)[0] == "archive"
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("http://airflow-api-server:8080/")
    # Superset sees the serving file at the same path (the bundle's database URI), read-only
    for name in ("superset", "superset-init", "superset-sync"):
        env = svc[name]["environment"]
        assert env["GRASSROOTS_SERVING"] == air["GRASSROOTS_SERVING"]
        m = mounted(name, env["GRASSROOTS_SERVING"])
        assert m == ("serving", True), (name, m)
        assert env["GRASSROOTS_SUPERSET_DB_URI"].startswith("postgresql+psycopg2://")
    assert mounted("airflow-scheduler", air["GRASSROOTS_SERVING"])[0] == "serving"
    # the init script is mounted where the postgres image runs it
    assert mounts("postgres")["/docker-entrypoint-initdb.d/10-grassroots.sh"] == (
        str(DEPLOY / "postgres-init.sh"), True)


def test_dockerfiles_copy_what_exists_and_pin_the_locks():
    for df in ("airflow.Dockerfile", "superset.Dockerfile"):
        text = (DEPLOY / df).read_text()
        for src in re.findall(r"^COPY (?:--\S+ )*(.+) \S+$", text, re.M):
            for s in src.split():
                assert (REPO / s).exists(), (df, s)
        assert (DEPLOY / f"{df}.dockerignore").is_file()
    # the Superset image adds the same driver versions as the Superset environment's lock
    lock = dict(re.findall(r"^([a-z0-9-]+)==(\S+)", (REPO / "dashboards" / "requirements.lock")
                           .read_text(), re.M))
    pins = dict(re.findall(r"([a-z0-9-]+)==([0-9][^\s\"]*)", (DEPLOY / "superset.Dockerfile").read_text()))
    assert pins and all(lock[k] == v for k, v in pins.items()), (pins, lock)
    # the Airflow image installs uv.lock's versions; the lock has a PostgreSQL driver
    uvlock = (REPO / "uv.lock").read_text()
    assert re.search(r'name = "psycopg2-binary"\nversion = "', uvlock)
    assert re.search(r'name = "apache-airflow"\nversion = "3.3.2"', uvlock)
    uv_version = re.search(r"uv==([0-9.]+)", (REPO / ".ci" / "run").read_text()).group(1)
    assert f"uv=={uv_version}" in (DEPLOY / "airflow.Dockerfile").read_text()


def _image_context(dest: Path, leave_out: tuple[str, ...] = ()) -> None:
    """The Superset image's files (its .dockerignore's allow-list) copied under ``dest``."""
    import shutil

    allowed = [line[1:] for line in (DEPLOY / "superset.Dockerfile.dockerignore").read_text()
               .splitlines() if line.startswith("!")]
    for rel in allowed:
        if rel in leave_out:
            continue
        src, dst = REPO / rel, dest / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dst)


def test_the_superset_images_modules_import_from_its_build_context_alone(tmp_path):
    """What the image runs (init job, superset-sync) imports and reads nothing its .dockerignore
    leaves out: the roles' row-level security and dashboards are the same as from the checkout."""
    _image_context(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-c", "import grassroots, grassroots.superset, grassroots.superset.reports,"
         " grassroots.deploy.superset_init, grassroots.deploy.superset_sync,"
         " grassroots.deploy.ui_config, grassroots.superset.manage; "
         "from grassroots.superset.authoring import DASHBOARDS, used_datasets; "
         "print(grassroots.__file__); print(sorted(d.slug for d in DASHBOARDS)); "
         "print(sorted(d.table_name for d in used_datasets() if d.rls))"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)}, capture_output=True,
        text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    from grassroots.superset.authoring import DASHBOARDS, used_datasets

    path, slugs, rls = proc.stdout.strip().splitlines()
    assert path == str(tmp_path / "grassroots" / "__init__.py")
    assert slugs == str(sorted(d.slug for d in DASHBOARDS)) and DASHBOARDS
    assert rls == str(sorted(d.table_name for d in used_datasets() if d.rls)) and rls != "[]"


def test_superset_config_matches_the_demo_settings():
    from grassroots.superset.manage import CONFIG_TEMPLATE

    def settings(src: str, env: dict[str, str]) -> dict:
        ns: dict = {}
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            exec(compile(src, "superset_config", "exec"), ns)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        return ns

    secret = DEPLOY / "superset_config.py"  # any readable file serves as the demo's secret file
    from grassroots.superset.reports import config_block

    demo = settings(CONFIG_TEMPLATE.format(secret_path=str(secret), sqlite_uri="sqlite://",
                                           root=str(REPO), port=8088) + config_block(Path("/tmp/home"), 8088), {})
    env = {"SUPERSET_SECRET_KEY": "k", "GRASSROOTS_SUPERSET_DB_URI": "postgresql://x/y",
           "SUPERSET_REDIS_URL": "redis://:p@redis:6379"}
    deploy = settings((DEPLOY / "superset_config.py").read_text(encoding="utf-8"), env)
    for key in ("BABEL_DEFAULT_LOCALE", "LANGUAGES", "FEATURE_FLAGS", "ROW_LEVEL_SECURITY",
                "PREVENT_UNSAFE_DB_CONNECTIONS", "WTF_CSRF_ENABLED", "SUPERSET_LOAD_EXAMPLES"):
        assert deploy[key] == demo[key], key
    assert deploy["SQLALCHEMY_DATABASE_URI"] == "postgresql://x/y"
    assert deploy["DATA_CACHE_CONFIG"]["CACHE_REDIS_URL"] == "redis://:p@redis:6379/1"
    # Alerts & Reports: the same settings; Celery's broker is a Redis database no cache uses
    for key in ("WEBDRIVER_TYPE", "WEBDRIVER_OPTION_ARGS", "WEBDRIVER_CONFIGURATION", "SMTP_HOST",
                "SMTP_PORT", "ALERT_REPORTS_NOTIFICATION_DRY_RUN"):
        assert deploy[key] == demo[key], key
    assert deploy["FEATURE_FLAGS"]["ALERT_REPORTS"] is True
    assert deploy["CELERY_CONFIG"].broker_url == "redis://:p@redis:6379/5"
    assert deploy["WEBDRIVER_BASEURL"] == "http://superset:8088/"
    # the module must stay importable by the Superset image: standard library only
    tree = ast.parse((DEPLOY / "superset_config.py").read_text(encoding="utf-8"))
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                for a in n.names}
    assert imported <= {"os"}


def test_envfile_fills_every_placeholder():
    from cryptography.fernet import Fernet

    from grassroots.deploy.envfile import fill, parse

    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    a, b = parse(fill(text)), parse(fill(text))
    assert "CHANGE_ME" not in "".join(a.values())
    for k, v in parse(text).items():
        if v == "CHANGE_ME":
            assert a[k] != b[k] and re.fullmatch(r"[A-Za-z0-9_=-]{32,}", a[k]), k
        else:
            assert a[k] == v, k
    Fernet(a["AIRFLOW_FERNET_KEY"].encode())
    assert parse(fill(fill(text)))["GRASSROOTS_HMAC_KEY"] != ""  # re-running keeps values set


# ------------------------------------------------------------------------------------------
# the same configuration, natively


def _pg(dbname: str = "postgres"):
    import psycopg2

    con = psycopg2.connect(dbname=dbname, **PG)
    con.autocommit = True
    return con


def _sql(dbname: str, query: str, params=None) -> list[tuple]:
    con = _pg(dbname)
    try:
        with con.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall()
    finally:
        con.close()


class Native:
    """The resolved Compose configuration, mapped onto this machine."""

    def __init__(self, tmp: Path, cfg: dict, names: dict[str, str]) -> None:
        self.tmp = tmp
        self.cfg = cfg
        self.names = names
        # container path -> native path: the volumes' mount points and the images' own paths
        self.container_paths = {
            "/data": tmp / "data",                   # landing, warehouse, archive, serving, home
            "/opt/airflow": tmp / "airflow",         # AIRFLOW_HOME of the image, auth, logs
            "/opt/grassroots": REPO,                 # the project inside the Airflow image
            "/app/superset_home": tmp / "superset_home",
        }
        self.timings: dict[str, float] = {}

    def translate(self, value: str) -> str:
        for c, n in sorted(self.container_paths.items(), key=lambda x: -len(x[0])):
            if value == c or value.startswith(c + "/"):
                return str(n) + value[len(c):]
        # the Compose Redis (password, host "redis") -> the local Redis (no password)
        return re.sub(r"^redis://[^@]*@redis:6379", f"redis://{PG['host']}:6379", value)

    def env(self, service: str, **extra: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("AIRFLOW", "GRASSROOTS_", "SUPERSET_", "VIRTUAL_ENV", "PG"))}
        base["PATH"] = f"{VENV_BIN}{os.pathsep}{base.get('PATH', '')}"
        env = {k: self.translate(str(v)) for k, v in
               (self.cfg["services"][service].get("environment") or {}).items()}
        return {**base, **env, **extra}

    def airflow_env(self, service: str) -> dict[str, str]:
        # AIRFLOW_HOME=/opt/airflow is set by the official image, not by Compose
        return self.env(service, AIRFLOW_HOME=self.translate("/opt/airflow"))

    def run(self, label: str, cmd: list[str], env: dict[str, str], timeout: float = 300):
        t = time.monotonic()
        proc = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True,
                              timeout=timeout)
        self.timings[label] = round(time.monotonic() - t, 1)
        (self.tmp / f"{label.replace(' ', '_')}.log").write_text(proc.stdout + proc.stderr)
        assert proc.returncode == 0, f"{label} failed:\n{(proc.stdout + proc.stderr)[-6000:]}"
        return proc


@pytest.fixture(scope="module")
def native(compose_bin, tmp_path_factory):
    from grassroots.deploy.envfile import fill
    from grassroots.superset import ensure_env

    ensure_env()  # .venvs/superset from dashboards/requirements.lock
    tmp = tmp_path_factory.mktemp("deploy")
    rnd = secrets.token_hex(4)
    names = {"airflow": f"gr_test_airflow_{rnd}", "superset": f"gr_test_superset_{rnd}"}
    env_file = tmp / ".env"
    env_file.write_text(fill(ENV_EXAMPLE.read_text(encoding="utf-8"), {
        "POSTGRES_HOST": PG["host"], "POSTGRES_PORT": str(PG["port"]),
        "AIRFLOW_DB_NAME": names["airflow"], "AIRFLOW_DB_USER": names["airflow"],
        "SUPERSET_DB_NAME": names["superset"], "SUPERSET_DB_USER": names["superset"],
    }))
    n = Native(tmp, resolved(compose_bin, env_file), names)
    superset_proc = None
    try:
        # PostgreSQL: the postgres service's init script and environment, against the local server
        n.run("postgres-init", ["bash", str(DEPLOY / "postgres-init.sh")],
              n.env("postgres", PGHOST=PG["host"], PGPORT=str(PG["port"])))
        # Superset in the background (its bootstrap is the slow part); the serving path it is
        # given is where the Airflow run below publishes, as in Compose
        t0 = time.monotonic()
        superset_log = open(tmp / "superset-init.log", "w+")
        superset_proc = subprocess.Popen(
            [sys.executable, "-m", "grassroots.deploy.superset_init"], cwd=REPO,
            env=n.env("superset-init"), stdout=superset_log, stderr=subprocess.STDOUT)
        # Airflow: the airflow-init job, then the DAG with the scheduler's environment
        n.run("airflow-init", [sys.executable, "-m", "grassroots.deploy.airflow_init"],
              n.airflow_env("airflow-init"))
        sched = n.airflow_env("airflow-scheduler")
        sched["GRASSROOTS_TASK_RETRIES"] = "0"  # a failure here should fail now, not in 10 min
        t = time.monotonic()
        from grassroots.generate import generate

        generate(Path(sched["GRASSROOTS_LANDING"]), residents=REGION["residents"],
                 start=REGION["start"], end=REGION["end"], seed=REGION["seed"],
                 anomalies=False, bad_row_share=0, progress=False)
        n.timings["generate"] = round(time.monotonic() - t, 1)
        n.dag_test = n.run("airflow dags test", [str(VENV_BIN / "airflow"), "dags", "test",
                                                 "grassroots_daily", LOGICAL_DATE], sched,
                           timeout=420)
        n.sched = sched
        rc = superset_proc.wait(timeout=420)
        n.timings["superset-init (parallel)"] = round(time.monotonic() - t0, 1)
        superset_log.seek(0)
        n.superset_log = superset_log.read()
        assert rc == 0, f"superset-init failed:\n{n.superset_log[-6000:]}"
        n.superset_env = n.env("superset-init")
        yield n
    finally:
        if superset_proc and superset_proc.poll() is None:
            superset_proc.kill()
            superset_proc.wait()
        print(f"\ntest_deploy timings (s): {n.timings}")
        for db in names.values():
            con = _pg()
            try:
                with con.cursor() as cur:
                    cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
                    cur.execute(f'DROP ROLE IF EXISTS "{db}"')
            finally:
                con.close()


@pytest.mark.slow
def test_postgres_init_created_owned_databases(native):
    rows = dict(_sql("postgres", "SELECT d.datname, r.rolname FROM pg_database d "
                     "JOIN pg_roles r ON r.oid = d.datdba WHERE d.datname = ANY(%s)",
                     [list(native.names.values())]))
    assert rows == {db: db for db in native.names.values()}  # owner = the service's own role
    # idempotent: a second run changes nothing and succeeds
    native.run("postgres-init again", ["bash", str(DEPLOY / "postgres-init.sh")],
               native.env("postgres", PGHOST=PG["host"], PGPORT=str(PG["port"])))


@pytest.mark.slow
def test_airflow_on_postgres_runs_the_daily_dag(native):
    db = native.names["airflow"]
    env = native.sched
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith(f"@{PG['host']}:{PG['port']}/{db}")
    assert _sql(db, "SELECT count(*) FROM alembic_version")[0][0] == 1  # migrated
    runs = _sql(db, "SELECT state, run_type FROM dag_run WHERE dag_id = 'grassroots_daily'")
    assert runs and runs[-1][0] == "success", runs
    states = dict(_sql(db, "SELECT state, count(*) FROM task_instance "
                       "WHERE dag_id = 'grassroots_daily' GROUP BY state"))
    assert set(states) <= {"success", "skipped"} and states.get("success", 0) > 10, states
    tasks = {t for (t,) in _sql(db, "SELECT task_id FROM task_instance "
                                "WHERE dag_id = 'grassroots_daily' AND state = 'success'")}
    assert {"wait_for_deliveries", "ingest", "validate_raw", "validate_marts", "publish_serving",
            "send_report"} <= tasks
    # the admin password file holds the password from .env, readable only by its owner
    pw = Path(native.airflow_env("airflow-init")["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    import json

    assert json.loads(pw.read_text()) == {"admin": native.env("airflow-init")["AIRFLOW_ADMIN_PASSWORD"]}
    assert pw.stat().st_mode & 0o077 == 0
    # the data landed where the volumes are: warehouse, archive, serving
    import duckdb

    wh, serving = Path(env["GRASSROOTS_WAREHOUSE"]), Path(env["GRASSROOTS_SERVING"])
    with duckdb.connect(str(wh), read_only=True) as con:
        loaded = con.execute("SELECT min(business_date), max(business_date) FROM audit.deliveries "
                             "WHERE status = 'loaded'").fetchone()
        assert loaded == (REGION["start"], REGION["end"])
    assert any((wh.parent / "archive" / "extracts").rglob("batch-*.zip"))
    with duckdb.connect(str(serving), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM marts.mart_outpatient_visits").fetchone()[0] > 0
    assert (Path(env["GRASSROOTS_HOME"]) / "data_docs" / "index.html").is_file()


@pytest.mark.slow
def test_superset_on_postgres_imported_the_bundle(native):
    db = native.names["superset"]
    assets = REPO / "dashboards" / "assets"
    assert _sql(db, "SELECT username FROM ab_user WHERE username = 'admin'") == [("admin",)]
    n_dash = len(list((assets / "dashboards").glob("*.yaml")))
    n_charts = len(list((assets / "charts").glob("*.yaml")))
    n_ds = len(list((assets / "datasets").rglob("*.yaml")))
    assert _sql(db, "SELECT count(*) FROM dashboards")[0][0] == n_dash
    assert _sql(db, "SELECT count(*) FROM slices")[0][0] == n_charts
    assert _sql(db, "SELECT count(*) FROM tables")[0][0] == n_ds
    serving = Path(native.superset_env["GRASSROOTS_SERVING"])
    assert serving == Path(native.sched["GRASSROOTS_SERVING"])  # what Airflow published
    (uri, extra), = _sql(db, "SELECT sqlalchemy_uri, extra FROM dbs")
    assert uri == f"duckdb:///{serving}"
    assert '"read_only": true' in extra
    # Superset's own environment (duckdb-engine) reads the published file read-only
    from grassroots.superset.manage import VENV

    probe = ("import sqlalchemy as sa, sys; e = sa.create_engine(sys.argv[1], connect_args="
             "{'read_only': True}); c = e.connect(); "
             "print(c.execute(sa.text('select count(*) from marts.mart_outpatient_visits')).scalar())")
    out = native.run("superset env reads serving", [str(VENV / "bin" / "python"), "-c", probe, uri],
                     native.superset_env)
    assert int(out.stdout.strip()) > 0
    # the Superset config in use is the deployment's (Redis cache), written into SUPERSET_HOME
    home = Path(native.superset_env["SUPERSET_HOME"])
    assert (home / "superset_config.py").read_text() == (DEPLOY / "superset_config.py").read_text()
    assert native.superset_env["SUPERSET_REDIS_URL"] == f"redis://{PG['host']}:6379"


@pytest.mark.slow
def test_superset_sync_follows_the_published_data(native):
    """The superset-sync service's pass: a role with row-level security per hospital in the
    published data, and the schedules of dashboards/reports.yml; then nothing until it changes."""
    from grassroots.superset import reports
    from grassroots.superset.manage import hospitals

    db = native.names["superset"]
    serving = Path(native.superset_env["GRASSROOTS_SERVING"])
    env = {**native.superset_env, "GRASSROOTS_REPORTS_COMMISSION_TO": "commission@example.test",
           "GRASSROOTS_REPORTS_ALERT_TO": "alerts@example.test"}
    cmd = [sys.executable, "-m", "grassroots.deploy.superset_sync", "--once"]
    first = native.run("superset-sync", cmd, env, timeout=420)
    assert "schedules" in first.stdout, first.stdout + first.stderr
    hosp = hospitals(serving)
    roles = {r for (r,) in _sql(db, "SELECT name FROM ab_role")}
    assert {"commission_analyst"} | {f"hospital_manager_{h['code']}" for h in hosp} <= roles
    n_rls = _sql(db, "SELECT count(*) FROM row_level_security_filters")[0][0]
    assert n_rls >= len(hosp)
    home = Path(env["SUPERSET_HOME"])
    users = json.loads((home / "users.json").read_text(encoding="utf-8"))
    expected = reports.load(reports.REPORTS_YML, users, reports.catalogue_targets(serving), env)
    assert _sql(db, "SELECT count(*) FROM report_schedule")[0][0] == len(expected) > 0
    # the same serving file again: no pass (the service looks every minute)
    again = native.run("superset-sync again", cmd, env, timeout=120)
    assert "already in step" in again.stdout, again.stdout + again.stderr
    # a forced pass (as every night's) updates in place: nothing added twice
    native.run("superset-sync forced", [*cmd, "--force"], env, timeout=420)
    assert _sql(db, "SELECT count(*) FROM row_level_security_filters")[0][0] == n_rls
    assert _sql(db, "SELECT count(*) FROM report_schedule")[0][0] == len(expected)


def test_superset_sync_sees_a_new_serving_file_or_new_recipients(tmp_path, monkeypatch):
    """What makes the superset-sync service run a pass: the serving file, dashboards/reports.yml
    and the recipients' variables; nothing else in the environment."""
    from grassroots.deploy.superset_sync import _identity

    serving = tmp_path / "serving.duckdb"
    assert _identity(serving) is None  # not published yet: nothing to sync
    serving.write_bytes(b"x")
    monkeypatch.delenv("GRASSROOTS_REPORTS_COMMISSION_TO", raising=False)
    first = _identity(serving)
    monkeypatch.setenv("SOMETHING_ELSE", "1")
    assert _identity(serving) == first
    monkeypatch.setenv("GRASSROOTS_REPORTS_COMMISSION_TO", "commission@example.test")
    second = _identity(serving)
    assert second != first
    serving.write_bytes(b"xy")  # republished
    assert _identity(serving) not in (first, second)


def test_roles_are_not_set_up_without_the_dashboard_specs(tmp_path):
    """Fail closed: a hospital manager's role without its row-level-security filters would see
    every hospital, so setting up roles where the specs are missing is an error, not a pass."""
    _image_context(tmp_path, leave_out=("dashboards/specs",))
    proc = subprocess.run(
        [sys.executable, "-c", "from pathlib import Path; "
         "from grassroots.superset.manage import configure_security; "
         "configure_security(Path('home'), Path('serving.duckdb'))"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)}, capture_output=True,
        text=True)
    assert proc.returncode != 0
    assert "SupersetError" in proc.stderr and "row-level security cannot be set up" in proc.stderr
    assert not (tmp_path / "home").exists()  # nothing written
