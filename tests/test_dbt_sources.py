"""The generated dbt artefacts stay in step with the contract."""

from __future__ import annotations

import csv
from pathlib import Path

import yaml

from grassroots import contract
from grassroots.dbt_sources import SOURCES_PATH, generate_sources
from grassroots.icd10_seed import SEED_PATH, rows

DBT = Path(__file__).resolve().parent.parent / "dbt"


def test_committed_sources_equal_generated():
    assert SOURCES_PATH.read_text(encoding="utf-8") == generate_sources(), (
        "dbt/models/staging/_raw__sources.yml is stale: uv run python -m grassroots.dbt_sources"
    )


def test_sources_list_every_dataset_and_stored_column():
    doc = yaml.safe_load(generate_sources())
    raw = {t["name"]: t for s in doc["sources"] if s["name"] == "raw" for t in s["tables"]}
    assert set(raw) == set(contract.DATASETS)
    for ds in contract.DATASETS.values():
        cols = [c["name"] for c in raw[ds.name]["columns"]]
        for c in ds.stored_columns:
            assert c.stored_name in cols
        assert "id_card_no" not in cols and "name" not in cols and "phone" not in cols


def test_project_vars_mirror_contract():
    project = yaml.safe_load((DBT / "dbt_project.yml").read_text(encoding="utf-8"))
    v = project["vars"]
    assert tuple(v["grassroots_types"]) == contract.GRASSROOTS_TYPES
    assert tuple(v["centre_types"]) == contract.CENTRE_TYPES
    assert tuple(v["hospital_types"]) == contract.HOSPITAL_TYPES
    assert tuple(v["quarantine_reasons"]) == contract.ALL_REASONS


def test_staging_model_per_dataset():
    for name in contract.DATASETS:
        assert (DBT / "models" / "staging" / f"stg_raw__{name}.sql").exists(), name


def test_icd10_seed_is_current():
    with SEED_PATH.open(encoding="utf-8") as f:
        committed = list(csv.DictReader(f))
    generated = [{k: str(v) for k, v in r.items()} for r in rows()]
    assert committed == generated
    cats = {r["category"] for r in committed}
    assert {"I10", "I13", "E11", "E14", "J06"} <= cats


def test_generated_docs_are_current():
    """docs/standard.md and docs/marts.md come from the contract and the dbt YAML: regenerate
    after changing either (uv run python -m grassroots.docs)."""
    from grassroots.docs import DOCUMENTS

    for path, render in DOCUMENTS.items():
        assert path.read_text(encoding="utf-8") == render(), path
