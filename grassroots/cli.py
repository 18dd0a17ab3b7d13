"""The ``grassroots`` command line: generate a region, run the pipeline."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from grassroots.config import load_hmac_key
from grassroots.ingest import IngestError

app = typer.Typer(help="Grassroots health-care analytics warehouse.", no_args_is_help=True)
console = Console(stderr=True)


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as e:
        raise typer.BadParameter(f"not a date (YYYY-MM-DD): {value}") from e


@app.command()
def run(
    landing: Annotated[Path, typer.Option(help="Landing zone (reference/ and extracts/).")],
    warehouse: Annotated[Path, typer.Option(help="DuckDB warehouse file.")],
    date_from: Annotated[str | None, typer.Option("--from", help="First business date.")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last business date.")] = None,
    archive: Annotated[Path | None, typer.Option(help="Archive folder [<warehouse dir>/archive].")] = None,
    serving: Annotated[Path | None, typer.Option(help="Publish a read-only serving copy here.")] = None,
    build: Annotated[bool, typer.Option(help="Build the dbt marts after loading.")] = True,
    validate: Annotated[bool, typer.Option(help="Run the data-quality validations.")] = True,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Load every new or changed complete facility-day, build the marts, validate, publish."""
    from grassroots.pipeline import run_pipeline

    key, source = load_hmac_key(warehouse)
    console.print(f"HMAC key for id numbers: {source}")
    try:
        run_pipeline(landing, warehouse, key=key, archive=archive, date_from=_date(date_from),
                     date_to=_date(date_to), build=build, validate=validate, serving=serving,
                     progress=progress, log=console.print)
    except IngestError as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from e
    except Exception as e:  # dbt or validation failure: say what, exit non-zero
        if type(e).__name__ == "DbtError":
            console.print(f"[red]error:[/red] {e}")
            raise typer.Exit(3) from e
        raise


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Landing zone to write.")],
    residents: Annotated[int, typer.Option(help="Number of residents.")] = 20_000,
    start: Annotated[str, typer.Option(help="First business date.")] = "2025-01-01",
    end: Annotated[str, typer.Option(help="Last business date.")] = "2025-12-31",
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same bytes).")] = 42,
    bad_row_share: Annotated[float, typer.Option(help="Share of bad rows injected.")] = 0.002,
    anomalies: Annotated[bool, typer.Option(help="Inject delivery anomalies.")] = True,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Write a synthetic region to the delivery standard."""
    from grassroots.generate import generate as gen

    summary = gen(out, residents=residents, start=_date(start), end=_date(end), seed=seed,
                  bad_row_share=bad_row_share, anomalies=anomalies, progress=progress)
    console.print(str(summary))


REPO = Path(__file__).resolve().parent.parent


def _home() -> Path:
    import os

    return Path(os.environ.get("GRASSROOTS_HOME") or REPO / "var")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def test(ctx: typer.Context) -> None:
    """Run the whole test suite (installs what the tests need first). Extra args go to pytest."""
    import os
    import subprocess

    from grassroots.system import ensure_chromium

    console.print(f"chromium: {ensure_chromium()}")
    try:
        from grassroots.superset import ensure_env
    except ImportError:
        pass
    else:
        console.print(f"superset environment: {ensure_env()}")
    args = [sys.executable, "-m", "pytest", *ctx.args]
    raise typer.Exit(subprocess.call(args, cwd=REPO, env=dict(os.environ)))


def main() -> None:  # pragma: no cover
    sys.exit(app())
