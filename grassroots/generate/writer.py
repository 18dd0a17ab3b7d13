"""Serialising batches to the landing zone: RFC 4180 CSV via the csv module, manifests, encodings.

A *batch* is a dict of equal-length numpy arrays: contract columns already formatted as strings
(empty string = null) plus internal columns starting with ``_`` (``_folder`` = facility index of
the delivering folder, and helpers the anomaly injector uses).  Nothing here draws random numbers
except through the injector, so the bytes depend only on the seed.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import date
from pathlib import Path

import numpy as np

from grassroots import contract

Batch = dict[str, np.ndarray]


# ---- vectorised formatting -------------------------------------------------------------------


def money(fen: np.ndarray) -> np.ndarray:
    """Integer fen -> 'yuan.ff' strings (exact: fen are integers, so sums are exact)."""
    fen = np.asarray(fen, dtype=np.int64)
    a = np.abs(fen)
    s = np.char.add(
        np.char.add((a // 100).astype("U"), "."), np.char.zfill((a % 100).astype("U"), 2)
    )
    return np.where(fen < 0, np.char.add("-", s), s).astype(object)


def ts(t: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(np.asarray(t, dtype="datetime64[s]"), unit="s").astype(object)


def dt(d: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(np.asarray(d, dtype="datetime64[D]"), unit="D").astype(object)


def yn(b: np.ndarray) -> np.ndarray:
    return np.where(np.asarray(b, dtype=bool), "Y", "N").astype(object)


def ints(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.int64).astype("U").astype(object)


def prefixed(prefix: str, n: np.ndarray, width: int = 10) -> np.ndarray:
    return np.char.add(
        prefix, np.char.zfill(np.asarray(n, dtype=np.int64).astype("U"), width)
    ).astype(object)


def take(arr: np.ndarray, idx: np.ndarray, empty_when: np.ndarray | None = None) -> np.ndarray:
    out = np.asarray(arr, dtype=object)[idx]
    if empty_when is not None:
        out = np.where(empty_when, "", out).astype(object)
    return out


def concat(batches: list[Batch]) -> Batch | None:
    batches = [b for b in batches if b and len(b["_folder"])]
    if not batches:
        return None
    keys = list(batches[0])
    keys += [k for b in batches[1:] for k in b if k not in keys]
    out = {}
    for k in keys:
        # an internal flag (e.g. _late) missing from some batches is 0 there
        proto = next(b[k] for b in batches if k in b)
        if not k.startswith("_") and any(k not in b for b in batches):
            raise KeyError(k)
        out[k] = np.concatenate(
            [b[k] if k in b else np.zeros(len(b["_folder"]), proto.dtype) for b in batches]
        )
    return out


def subset(b: Batch, mask_or_idx: np.ndarray) -> Batch:
    return {k: v[mask_or_idx] for k, v in b.items()}


# ---- files and manifests ---------------------------------------------------------------------


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)  # excel dialect: comma, '"' quoting when needed, CRLF (RFC 4180)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def encode(text: str, encoding: str, bom: bool = False) -> bytes:
    data = text.encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom and encoding == "utf-8" else data


def write_folder(
    folder: Path,
    facility_code: str,
    business_date: date,
    version: int,
    generated_at: str,
    encoding: str,
    files: list[tuple[str, bytes, int]],
) -> dict:
    """Write the dataset files then the manifest (last, as a real export job would)."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for dataset, data, rows in files:
        name = f"{dataset}.csv"
        (folder / name).write_bytes(data)
        entries.append(
            {
                "dataset": dataset,
                "file": name,
                "rows": rows,
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )
    manifest = {
        "standard_version": contract.STANDARD_VERSION,
        "facility_code": facility_code,
        "business_date": business_date.isoformat(),
        "delivery_version": version,
        "generated_at": generated_at,
        "encoding": encoding,
        "files": entries,
    }
    (folder / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return manifest


def write_reference(out: Path, name: str, rows: list[list[str]]) -> None:
    ref = out / "reference"
    ref.mkdir(parents=True, exist_ok=True)
    text = csv_text(contract.DATASETS[name].names, rows)
    (ref / f"{name}.csv").write_bytes(text.encode("utf-8"))
