"""The ``grassroots`` command line: generate a region, run the pipeline."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from grassroots.config import load_hmac_key
from grassroots.ingest import IngestError, ingest

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
    build: Annotated[bool, typer.Option(help="Build the dbt marts after loading.")] = True,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Load every new or changed complete facility-day, then build the marts."""
    key, source = load_hmac_key(warehouse)
    console.print(f"HMAC key for id numbers: {source}")
    try:
        report = ingest(landing, warehouse, key=key, archive=archive, date_from=_date(date_from),
                        date_to=_date(date_to), progress=progress)
    except IngestError as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from e
    console.print(report.summary())
    if build:
        try:
            from grassroots.build import build as dbt_build
        except ImportError:
            console.print("dbt project not available yet: marts not built")
            return
        try:
            dbt_build(warehouse)
        except Exception as e:  # noqa: BLE001 - reported as a clear failure
            console.print(f"[red]error:[/red] dbt build failed: {e}")
            raise typer.Exit(3) from e


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


def main() -> None:  # pragma: no cover
    sys.exit(app())
