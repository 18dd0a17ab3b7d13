"""``grassroots run`` when the configuration or the machine is at fault: exit 2 and one line
naming the cause (no traceback), nothing half-done; and one writer for the whole run."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
from conftest import Env
from handmade import RECORD_HEADER, VISIT_HEADER, record, visit

from grassroots.install import ensure_bytecode

C = "C330102001"
GRASSROOTS = Path(sys.executable).parent / "grassroots"
FAST = ("--no-build", "--no-validate", "--no-progress")
NO_SPACE = os.strerror(28)  # ENOSPC: "No space left on device"


@pytest.fixture(autouse=True, scope="module")
def _compiled() -> None:
    """The CLI compiles the environment once per lock: not inside the timed runs below."""
    ensure_bytecode()


def run_cli(*args: str, environ: dict | None = None, script: str | None = None,
            **kw) -> subprocess.CompletedProcess:
    """``grassroots <args>``; with ``script``, Python code run first in the same process."""
    cmd = [str(GRASSROOTS), *args] if script is None else [
        sys.executable, "-c", script + "\nfrom grassroots.cli import app\n"
        "import sys\nsys.argv = ['grassroots'] + sys.argv[1:]\napp()\n", *args]
    base = {k: v for k, v in os.environ.items() if not k.startswith("GRASSROOTS_HMAC")}
    return subprocess.run(cmd, capture_output=True, text=True, env={**base, **(environ or {})},
                          timeout=300, **kw)


def assert_exit_2(proc: subprocess.CompletedProcess, *causes: str) -> str:
    """Exit 2, and the last line of stderr is the only error line, naming every cause."""
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "cannot rollback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and sum("error" in x for x in lines) == 1, lines
    for cause in causes:
        assert cause in lines[-1], lines[-1]
    return lines[-1]


KEY = {"GRASSROOTS_HMAC_KEY": "test-key"}


def cli_run(zone: Env, warehouse: Path | None = None, *extra: str, **kw
            ) -> subprocess.CompletedProcess:
    return run_cli("run", "--landing", str(zone.landing.root), "--warehouse",
                   str(warehouse or zone.warehouse), *FAST, *extra, cwd=zone.tmp, **kw)


@contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A small file system of its own (a disk that fills up), removed afterwards."""
    path.mkdir(parents=True)
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs",
                            str(path)], capture_output=True, text=True)
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mount.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def _one_delivery(env: Env, rows: int = 3, day: str = "2025-03-01") -> None:
    env.landing.delivery(day, C, {"outpatient_visits": (VISIT_HEADER, [
        visit(f"V{day[-2:]}{i}", when=f"{day}T09:00:00", department_code="内科" * 20)
        for i in range(rows)])})


# -- configuration --------------------------------------------------------------------------


def _without_dac_override() -> None:
    """In the child: root without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, so that file modes
    apply to it as to any operator's account (PR_CAPBSET_DROP, then exec)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):
        if libc.prctl(24, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_no_permission_on_the_default_key_file_location(env: Env) -> None:
    _one_delivery(env)
    secrets = env.warehouse.parent / "secrets"
    secrets.mkdir(parents=True)
    secrets.chmod(0)
    try:
        drop = _without_dac_override if os.geteuid() == 0 else None
        proc = cli_run(env, preexec_fn=drop)
    finally:
        secrets.chmod(0o700)
    assert_exit_2(proc, "HMAC key file", str(secrets / "hmac.key"), "Permission denied")
    assert not env.warehouse.exists()


@pytest.mark.parametrize("key", [True, False])
def test_a_warehouse_whose_parent_is_a_file(env: Env, key: bool) -> None:
    _one_delivery(env)
    parent = env.tmp / "not-a-folder[b]"  # printed as it is, not read as markup
    parent.write_text("a file")
    proc = cli_run(env, parent / "warehouse.duckdb", environ=KEY if key else None)
    assert_exit_2(proc, str(parent))
    assert parent.read_text() == "a file"


def test_an_empty_key_file(env: Env) -> None:
    _one_delivery(env)
    key_file = env.tmp / "hmac.key"
    key_file.write_text("\n")
    proc = cli_run(env, environ={"GRASSROOTS_HMAC_KEY_FILE": str(key_file)})
    assert_exit_2(proc, f"HMAC key file {key_file} is empty")


def test_the_demo_exits_2_with_one_line_too(env: Env) -> None:
    home = env.tmp / "home"
    (home / "landing" / "extracts").mkdir(parents=True)  # a region is there: no generation
    key_file = env.tmp / "hmac.key"
    key_file.write_text("\n")
    proc = run_cli("demo", "--no-dashboards", cwd=env.tmp, environ={
        "GRASSROOTS_HOME": str(home), "GRASSROOTS_HMAC_KEY_FILE": str(key_file)})
    assert_exit_2(proc, f"HMAC key file {key_file} is empty")


def test_the_memory_limit_reaches_the_loader_and_a_bad_one_is_one_line(env: Env) -> None:
    from grassroots.ingest import connect

    _one_delivery(env)
    proc = cli_run(env, environ={**KEY, "GRASSROOTS_MEMORY_LIMIT": "lots"})
    assert_exit_2(proc, "GRASSROOTS_MEMORY_LIMIT must be a size such as 4GB", "'lots'")
    assert not env.warehouse.exists()
    os.environ["GRASSROOTS_MEMORY_LIMIT"] = "1GB"
    try:
        with connect(env.tmp / "limited.duckdb") as con:
            assert con.execute("SELECT current_setting('memory_limit')").fetchone() == (
                "572.2 MiB",)
    finally:
        del os.environ["GRASSROOTS_MEMORY_LIMIT"]


# -- a full disk ----------------------------------------------------------------------------


def test_disk_full_at_commit_names_the_cause_and_commits_nothing(env: Env) -> None:
    """The warehouse's disk fills up (another writer) right before the commit: DuckDB cannot
    write its log.  The message is that cause, and a later run loads everything."""
    _one_delivery(env, rows=200)
    with tmpfs(env.tmp / "disk", "8m") as disk:
        warehouse, filler = disk / "warehouse.duckdb", disk / "filler"
        fill = textwrap.dedent(f"""
            from grassroots.ingest import audit
            original = audit.write_deliveries
            def write_deliveries(run):
                original(run)
                with open({str(filler)!r}, "wb") as f:
                    try:
                        while True:
                            f.write(bytes(65536))
                    except OSError:
                        pass
            audit.write_deliveries = write_deliveries
        """)
        proc = cli_run(env, warehouse, "--archive", str(env.tmp / "archive"), environ=KEY,
                       script=fill)
        line = assert_exit_2(proc, NO_SPACE, "nothing committed")
        assert "warehouse.duckdb" in line
        filler.unlink()
        again = cli_run(env, warehouse, "--archive", str(env.tmp / "archive"), environ=KEY)
        assert again.returncode == 0, again.stderr
        env.warehouse = warehouse
        assert env.sql("SELECT count(*) FROM raw.outpatient_visits") == [(200,)]
        assert env.sql("SELECT count(*) FROM audit.batches") == [(1,)]


def test_archive_disk_full_names_the_cause_and_loads_nothing(env: Env) -> None:
    _one_delivery(env, rows=600)  # about 150 KB
    env.landing.delivery("2025-03-01", "C330122001", {
        "health_records": (RECORD_HEADER, [record("R0000000001", facility_code="C330122001",
                                                  region_code="330122101201")])})
    with tmpfs(env.tmp / "archive-disk", "64k") as disk:
        proc = cli_run(env, None, "--archive", str(disk / "archive"), environ=KEY)
        assert_exit_2(proc, NO_SPACE)
        assert env.sql("SELECT count(*) FROM audit.deliveries") == [(0,)]
        assert env.sql("SELECT count(*) FROM raw.outpatient_visits") == [(0,)]
    again = cli_run(env, None, "--archive", str(env.tmp / "archive"), environ=KEY)
    assert again.returncode == 0, again.stderr
    assert env.sql("SELECT count(*) FROM raw.outpatient_visits") == [(600,)]


# -- one writer for the whole run -----------------------------------------------------------


def _first_run(env: Env, go: Path, *, build: bool) -> subprocess.Popen:
    """A real pipeline run that, after its ingest step, waits until ``go`` exists (standing for
    the dbt build, validations and publish that follow it)."""
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from grassroots.pipeline import run_pipeline
        def log(msg):
            print(msg, flush=True)
            if msg.startswith("batch "):
                print("ingested", flush=True)
                while not Path({str(go)!r}).exists():
                    time.sleep(0.05)
        run_pipeline(Path({str(env.landing.root)!r}), Path({str(env.warehouse)!r}),
                     key=b"test-key", build={build}, validate=False, log=log)
        print("done", flush=True)
    """)
    return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=env.tmp)


def _wait_for(proc: subprocess.Popen, word: str) -> None:
    for line in proc.stdout:
        if line.strip() == word:
            return
    raise AssertionError(f"the first run ended without {word!r}: {proc.stderr.read()}")


def test_a_second_run_exits_at_once_while_the_first_one_is_past_its_ingest(env: Env) -> None:
    _one_delivery(env)
    go = env.tmp / "go"
    first = _first_run(env, go, build=False)
    try:
        _wait_for(first, "ingested")
        _one_delivery(env, day="2025-03-02")
        started = time.monotonic()
        second = cli_run(env, environ=KEY)
        assert time.monotonic() - started < 60
        assert_exit_2(second, f"another grassroots run (pid {first.pid}) is writing")
    finally:
        go.touch()
        out, err = first.communicate(timeout=300)
    assert first.returncode == 0 and "done" in out, err
    assert env.sql("SELECT count(*) FROM audit.batches") == [(1,)]  # only the first one's
    third = cli_run(env, environ=KEY)  # the lock is free again
    assert third.returncode == 0, third.stderr
    assert env.sql("SELECT count(DISTINCT _business_date) FROM raw.outpatient_visits") == [(2,)]


@pytest.mark.slow
def test_a_second_run_exits_at_once_while_the_first_ones_dbt_builds(env: Env) -> None:
    """The same with the real steps: the first run builds the dbt project after its ingest."""
    _one_delivery(env)
    first = subprocess.Popen(
        [str(GRASSROOTS), "run", "--landing", str(env.landing.root), "--warehouse",
         str(env.warehouse), "--no-validate", "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, **KEY})
    try:
        for line in first.stdout:
            if line.startswith("batch 1:"):
                break
        else:
            raise AssertionError("the first run ended before its ingest summary")
        second = cli_run(env, environ=KEY)
        assert_exit_2(second, f"another grassroots run (pid {first.pid}) is writing")
        assert first.poll() is None  # the first run was still building
    finally:
        rest = first.communicate(timeout=900)[0]
    assert first.returncode == 0, rest
    assert "dbt build: marts built and tested" in rest


def test_the_dags_validation_and_publish_wait_for_a_run_in_progress(tmp_path: Path) -> None:
    """The DAG's tasks are separate processes: its validation (which records its result) and
    its publish take the run lock too, so a run started by hand is not interleaved with them."""
    from grassroots.lock import WarehouseBusy
    from grassroots.quality import steps
    from grassroots.settings import Settings

    s = Settings(home=tmp_path, landing=tmp_path / "landing", warehouse=tmp_path / "w.duckdb",
                 serving=tmp_path / "serving.duckdb", gx_dir=tmp_path / "gx",
                 data_docs=tmp_path / "docs")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pathlib import Path; "
         "from grassroots.lock import writer_lock\n"
         f"with writer_lock(Path({str(s.warehouse)!r})):\n"
         "    print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(WarehouseBusy, match=f"pid {holder.pid}"):
            steps.run_publish(s)
        with pytest.raises(WarehouseBusy, match=f"pid {holder.pid}"):
            steps.validate("raw", s.warehouse, date(2025, 3, 1), runner=None)
    finally:
        holder.communicate("", timeout=30)
    assert not s.serving.exists()
