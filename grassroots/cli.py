"""The ``grassroots`` command line: generate a region, run the pipeline."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from grassroots import settings
from grassroots.config import DEMO_REGION, load_hmac_key
from grassroots.errors import RunError, environment_cause, one_line
from grassroots.rules import mask_text

app = typer.Typer(help="Grassroots health-care analytics warehouse.", no_args_is_help=True)
console = Console(stderr=True)


@app.callback()
def _setup() -> None:
    """Every command: the environment's bytecode first (once per uv.lock; see install.py)."""
    from grassroots.install import ensure_bytecode

    with console.status("compiling the environment's packages to bytecode (once)"):
        ensure_bytecode()


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as e:
        raise typer.BadParameter(f"not a date (YYYY-MM-DD): {value}") from e


@app.command()
def run(
    landing: Annotated[str, typer.Option(
        help="Landing zone (reference/ and extracts/): a folder, or an fsspec URL "
             "(s3://bucket/prefix, sftp://user@host/dir) pulled into --landing-cache first.")],
    warehouse: Annotated[Path, typer.Option(help="DuckDB warehouse file.")],
    date_from: Annotated[str | None, typer.Option("--from", help="First business date.")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last business date.")] = None,
    archive: Annotated[Path | None, typer.Option(help="Archive folder [<warehouse dir>/archive].")] = None,
    serving: Annotated[Path | None, typer.Option(help="Publish a read-only serving copy here.")] = None,
    build: Annotated[bool, typer.Option(help="Build the dbt marts after loading.")] = True,
    validate: Annotated[bool, typer.Option(help="Run the data-quality validations.")] = True,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    landing_cache: Annotated[Path | None, typer.Option(
        help="Local copy of a --landing URL [<warehouse dir>/landing-cache].")] = None,
) -> None:
    """Load every new or changed complete facility-day, build the marts, validate, publish."""
    from grassroots.lock import writer_lock
    from grassroots.pipeline import run_pipeline

    with _exits():
        key, source = load_hmac_key(warehouse)
        console.print(f"HMAC key for id numbers: {source}")
        with writer_lock(warehouse):  # the pull and the load are one run
            local = _local_landing(landing, landing_cache, warehouse, _date(date_from),
                                   _date(date_to))
            run_pipeline(local, warehouse, key=key, archive=archive,
                         date_from=_date(date_from), date_to=_date(date_to), build=build,
                         validate=validate, serving=serving, progress=progress,
                         log=console.print)


@contextmanager
def _exits() -> Iterator[None]:
    """A configuration or environment failure exits 2 with one line naming the cause; a failed
    dbt build exits 3 with dbt's own tail; anything else is a bug and keeps its traceback."""
    from grassroots.build import DbtError

    try:
        yield
    except RunError as e:
        _fail(str(e), 2, e)
    except DbtError as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(3) from e
    except Exception as e:
        cause = environment_cause(e)  # a later step's disk or permission failure
        if cause is not None:
            _fail(cause, 2, e)
        raise


def _local_landing(landing: str, cache: Path | None, warehouse: Path, date_from: date | None,
                   date_to: date | None) -> Path:
    """The landing folder to load: ``landing`` itself, or the local cache a URL is pulled into."""
    from fsspec.core import split_protocol

    scheme, rest = split_protocol(landing)
    if scheme in (None, "file", "local"):
        return Path(rest)
    from grassroots.pull import pull_landing_url

    cache = cache or warehouse.parent / "landing-cache"
    check = pull_landing_url(landing, cache, warehouse, date_from=date_from, date_to=date_to)
    console.print(f"pulled {len(check['pulled'])} new or changed folders and files from "
                  f"{check['remote']} into {cache}; {len(check['waiting'])} waiting (upload not "
                  f"finished), {len(check['refused'])} refused")
    return cache


def _fail(message: str, code: int, cause: BaseException) -> None:
    """Exit with ``code`` after one line (never wrapped, never quoting a person's number)."""
    console.print(f"[red]error:[/red] {escape(mask_text(one_line(message)))}", soft_wrap=True,
                  highlight=False)
    raise typer.Exit(code) from cause


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Landing zone to write.")],
    residents: Annotated[int, typer.Option(help="Number of residents.")] = 20_000,
    start: Annotated[str, typer.Option(help="First business date.")] = "2025-01-01",
    end: Annotated[str, typer.Option(
        help="Last business date (dates after today do not load until they have passed).")] = "2025-12-31",
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same bytes).")] = 42,
    bad_row_share: Annotated[float, typer.Option(help="Share of bad rows injected.")] = 0.002,
    anomalies: Annotated[bool, typer.Option(help="Inject delivery anomalies.")] = True,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Write a synthetic region to the delivery standard."""
    from grassroots.generate import generate as gen
    from grassroots.ingest.discover import today_cst

    summary = gen(out, residents=residents, start=_date(start), end=_date(end), seed=seed,
                  bad_row_share=bad_row_share, anomalies=anomalies, progress=progress)
    console.print(str(summary))
    today = today_cst()
    if _date(end) >= today:
        # the loader refuses a business date that has not ended (China time): a real delivery
        # cannot carry one
        console.print(f"[yellow]Business dates from {today} on will not load until they have "
                      "passed: the loader refuses dates that have not ended yet.[/yellow]")


@app.command("pull")
def pull_cmd(
    source: Annotated[list[str] | None, typer.Option(
        help="A registered source's name (repeatable) [all].")] = None,
    sources: Annotated[Path | None, typer.Option(
        help="Sources registry [$GRASSROOTS_SOURCES or dags/sources.yml].")] = None,
    date_from: Annotated[str | None, typer.Option("--from", help="First business date.")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last business date.")] = None,
) -> None:
    """Pull the registered sources' new whole folders into the landing zone (what the DAG's
    pull tasks do), record them in the warehouse, and say what waits and why."""
    from datetime import timedelta

    from grassroots.pull import pull_source, record
    from grassroots.sources import load_registry

    s = settings.Settings.from_env()
    try:
        chosen = [x for x in load_registry(sources) if not source or x.name in source]
        if source and len(chosen) != len(set(source)):
            raise RunError(f"not in the registry: {sorted(set(source) - {x.name for x in chosen})}")
        d0, d1 = _date(date_from), _date(date_to)
        dates = [d0 + timedelta(days=k) for k in range((d1 - d0).days + 1)] if d0 and d1 else None
        for src in chosen:
            c = pull_source(src, s.landing, dates=dates, business_date=d1)
            console.print(f"{src.name} ({c['remote']}): {c['status']} {c['detail']}".rstrip())
            for r in c["pulled"]:
                console.print(f"  pulled {r['business_date'] or 'reference'} "
                              f"{r['facility_code'] or r['files'][0]['file']} v{r['delivery_version'] or '-'}")
            for k, why in c["waiting"].items():
                console.print(f"  waiting {k}: {escape(why)}")
            for r in c["refused"]:
                console.print(f"  refused {r['business_date']} {r['facility_code']}: {escape(r['detail'])}")
        record(s.landing, s.warehouse)
    except RunError as e:
        _fail(str(e), 2, e)


def _home() -> Path:
    return settings.home()


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def test(ctx: typer.Context) -> None:
    """Run the whole test suite (installs what the tests need first). Extra args go to pytest."""
    import os
    import subprocess

    from grassroots import spark
    from grassroots.install import ensure_debian_packages
    from grassroots.superset import ensure_env

    # the one place that prepares the machine: the tests only check for what they use
    installed = ensure_debian_packages()
    if installed:
        console.print(f"Debian packages installed: {', '.join(installed)}")
    console.print(f"superset environment: {ensure_env()}")
    console.print(f"spark environment: {spark.ensure_env()}")
    args = [sys.executable, "-m", "pytest", *ctx.args]
    raise typer.Exit(subprocess.call(args, cwd=settings.REPO, env=dict(os.environ)))


@app.command()
def demo(
    residents: Annotated[int, typer.Option(help="Residents of the demo region.")] = DEMO_REGION[
        "residents"
    ],
    start: Annotated[str, typer.Option(help="First business date.")] = DEMO_REGION[
        "start"
    ].isoformat(),
    end: Annotated[str, typer.Option(help="Last business date.")] = DEMO_REGION["end"].isoformat(),
    seed: Annotated[int, typer.Option(help="Random seed.")] = DEMO_REGION["seed"],
    port: Annotated[int, typer.Option(help="Superset port on 127.0.0.1.")] = 8088,
    regenerate: Annotated[bool, typer.Option(help="Write the region again.")] = False,
    dashboards: Annotated[bool, typer.Option(help="Set up and start Superset.")] = True,
) -> None:
    """The main job on a demo region: generate, load, build, validate, publish, dashboards."""
    import shutil

    from grassroots.build import docs_generate
    from grassroots.generate import generate as gen
    from grassroots.pipeline import run_pipeline

    home = _home()
    landing, warehouse = home / "landing", home / "warehouse.duckdb"
    serving = home / "serving.duckdb"
    if regenerate or not (landing / "extracts").is_dir():
        console.rule("1. synthetic region")
        console.print(str(gen(landing, residents=residents, start=_date(start), end=_date(end),
                              seed=seed, progress=True)))
    console.rule("2. pipeline: ingest → dbt build → validations → serving copy")
    with _exits():
        key, source = load_hmac_key(warehouse)
        console.print(f"HMAC key for id numbers: {source}")
        # two weeks of raw-layer validations, so the data-quality dashboard shows a trend
        run_pipeline(landing, warehouse, key=key, serving=serving, progress=True,
                     raw_history_days=13, log=console.print)
        target = docs_generate(warehouse)
    docs = home / "dbt-docs"
    shutil.rmtree(docs, ignore_errors=True)
    docs.mkdir(parents=True)
    for name in ("index.html", "catalog.json", "manifest.json"):
        shutil.copy(target / name, docs / name)
    console.print(f"dbt docs: {docs / 'index.html'}")
    if dashboards:
        console.rule("3. dashboards")
        from grassroots.superset import setup

        info = setup(home / "superset", serving, port=port)
        console.print(info.summary())
        _reports_setup(home / "superset", serving)
    console.rule("done")
    console.print(f"warehouse: {warehouse}\nserving copy: {serving}\nlanding zone: {landing}")
    if dashboards:
        console.print("stop the dashboards and the reports' workers: uv run grassroots stop")


def _reports_setup(superset_home: Path, serving: Path) -> None:
    """Scheduled reports and alerts (dashboards/reports.yml): a failure is said, not fatal."""
    from grassroots.superset import reports

    console.rule("4. scheduled reports and alerts")
    try:
        console.print(reports.summary(superset_home, reports.setup(superset_home, serving)))
    except reports.SupersetError as e:  # ReportsError included
        console.print(f"[yellow]reports and alerts not running:[/yellow] {escape(str(e))}")


@app.command()
def stop() -> None:
    """Stop what the demo left running: Superset, the reports' worker and beat, the mailbox."""
    from grassroots.superset.reports import stop_all

    stopped = stop_all(_home() / "superset")
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@app.command("reports")
def reports_cmd(
    run: Annotated[str | None, typer.Option(help="Send this report or alert now (its key).")] = None,
    log: Annotated[str | None, typer.Option(help="Show this one's latest executions.")] = None,
    sync: Annotated[bool, typer.Option(help="Create/update the schedules from dashboards/reports.yml.")] = False,
) -> None:
    """Scheduled reports and alerts of the demo's Superset (Superset Alerts & Reports)."""
    import json

    from grassroots.superset import reports

    home = _home() / "superset"
    try:
        if sync:
            console.print(json.dumps(reports.sync(home, _home() / "serving.duckdb"), ensure_ascii=False))
        if run:
            before = len(reports.log(home, run, 100)["log"])
            console.print(f"queued: {reports.run_now(home, run)}")
            entry = reports.wait_for_log(home, run, after=before, timeout=600)
            console.print(f"{run}: {entry['state']} {entry.get('cause') or entry.get('error_message') or ''}")
        if log:
            console.print(json.dumps(reports.log(home, log, 10), ensure_ascii=False, indent=1))
    except reports.SupersetError as e:  # ReportsError included
        _fail(str(e), 2, e)


@app.command()
def screenshots(
    serving: Annotated[Path | None, typer.Option(
        help="Serving file to show [<home>/serving.duckdb, written by `grassroots demo`].")] = None,
    out: Annotated[Path, typer.Option(help="Folder of the PNGs.")] = settings.REPO / "dashboards" / "screenshots",
) -> None:
    """Refresh the committed dashboard screenshots (a throwaway Superset on the serving file)."""
    from grassroots.install import ensure_debian_packages
    from grassroots.superset.browser import CHROMIUM, refresh_screenshots

    serving = serving or _home() / "serving.duckdb"
    if not serving.is_file():
        console.print(f"[red]error:[/red] {serving} does not exist; run `grassroots demo --no-dashboards` first")
        raise typer.Exit(2)
    # a command that needs the browser prepares the machine for it (the library only checks)
    installed = ensure_debian_packages(CHROMIUM)
    if installed:
        console.print(f"Debian packages installed: {', '.join(installed)}")
    for r in refresh_screenshots(serving, out):
        console.print(f"{r['slug']}: {r['rendered']} charts, {r['screenshot']}")


@app.command()
def bench(
    sizes: Annotated[str, typer.Option(help="Residents per region, comma-separated.")] = "50000,200000,1000000",
    days: Annotated[int, typer.Option(help="Business days of each region.")] = 365,
    out: Annotated[Path, typer.Option(help="Where results.json/.md and cost.png go.")] = Path("bench"),
    data: Annotated[Path | None, typer.Option(help="Scratch folder for regions and warehouses [<home>/bench].")] = None,
    seed: Annotated[int, typer.Option(help="Random seed of the regions.")] = 42,
    charts: Annotated[bool, typer.Option(help="Time the dashboard chart queries (largest size).")] = True,
    window_hours: Annotated[float, typer.Option(help="Nightly window for the capacity estimate.")] = 6.0,
    largest_first: Annotated[bool, typer.Option(help="Measure the largest size first.")] = False,
    keep: Annotated[bool, typer.Option(help="Keep the other sizes' results in results.json.")] = False,
    heavy: Annotated[bool, typer.Option(help="The largest size also gets a heavy night: 420 further business dates delivered at once.")] = True,
    memory_limit: Annotated[str, typer.Option(help="GRASSROOTS_MEMORY_LIMIT of every stage.")] = "4GB",
    nights: Annotated[int, typer.Option(help="Incremental nights after each history (each gives a ratio).")] = 3,
) -> None:
    """Benchmark: raw scan vs ingest/dbt/whole job, incremental nights, heavy night, memory,
    chart queries, capacity."""
    from grassroots.bench import run_bench

    run_bench(out, data or _home() / "bench", [int(x) for x in sizes.split(",") if x.strip()],
              days=days, seed=seed, charts=charts, window_hours=window_hours,
              order="largest" if largest_first else "smallest", keep=keep, heavy=heavy,
              memory_limit=memory_limit, inc_repeats=nights, log=console.print)
    console.print((out / "results.md").read_text())


def main() -> None:  # pragma: no cover
    sys.exit(app())
