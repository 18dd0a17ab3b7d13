"""Decoding a delivered file by its declared encoding and checking its header."""

from __future__ import annotations

import csv
import re
from functools import lru_cache

from grassroots.contract import DATASETS, Dataset
from grassroots.ingest.delivery import DataFile
from grassroots.ingest.discover import ENCODINGS, show
from grassroots.ingest.files import read_regular
from grassroots.rules import mask_text

# Chinese text as UTF-8 decodes: CJK (with radicals, punctuation, full-width forms, extensions).
_CJK = re.compile("[\u2e80-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003ffff]")


def _utf8_text(data: bytes) -> bool:
    """UTF-8 Chinese text (or a UTF-8 BOM): read as GBK it would be mojibake.  A GBK file can be
    valid UTF-8 by accident (元 is D4 AA, a 2-byte UTF-8 sequence) but then decodes to no CJK
    character: CJK characters are 3-byte sequences that real GBK text practically never forms."""
    if data.isascii():
        return False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return text.startswith("\ufeff") or _CJK.search(text) is not None


def _near(name: str) -> str:
    """A header name as a sloppy export may write it: stray spaces or BOMs, other case."""
    return name.strip().strip("\ufeff\u200b").strip().casefold()


def prepare_file(f: DataFile, encoding: str, ds: Dataset) -> None:
    """Decode by the declared encoding and check the header; sets ``rejected`` on failure.

    OSError when the file cannot be read (it is read without following a symbolic link)."""
    data = f.data = f.data if f.data is not None else read_regular(f.path)
    codec = ENCODINGS[encoding]
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as e:
        f.rejected = ("bad_encoding", f"not valid {encoding}: byte {e.start}: {e.reason}")
        return
    if codec != "utf-8-sig" and _utf8_text(data):
        f.rejected = ("bad_encoding", f"declared {encoding} but its non-ASCII bytes are UTF-8 "
                                      f"text: read as {encoding} they would be mojibake")
        return
    # Records ending in a lone CR (old Mac exports) are read as lines: a file with no LF at all.
    cr_only = "\r" in text and "\n" not in text
    if cr_only:
        text = text.replace("\r", "\n")
    first = text.split("\n", 1)[0].rstrip("\r")
    try:
        header = next(csv.reader([first], strict=True), [])
    except csv.Error as e:
        f.rejected = ("type_error", f"unreadable CSV header: {e}")
        return
    # the files of a dataset nearly all share one header, and a region delivers them by the
    # hundred thousand: the verdict on an ordinary header is cached (an outsized one is not kept)
    check = _header_problem_cached if len(first) <= _CACHED_HEADER_CHARS else _header_problem
    f.rejected = check(tuple(header), ds.name)
    if f.rejected:
        return
    f.header = header
    # DuckDB reads UTF-8 only: GBK files (and BOM'd ones, for exact header names, and CR-only
    # ones) are transcoded; the original bytes stay as delivered (hashed, archived).
    plain = codec == "utf-8-sig" and not data.startswith(b"\xef\xbb\xbf") and not cr_only
    f.utf8 = data if plain else text.encode("utf-8")


def _header_problem(header: tuple[str, ...], dataset: str) -> tuple[str, str] | None:
    """Why a header cannot be read as the dataset's columns (None when it can)."""
    ds = DATASETS[dataset]
    names = set(ds.names)
    if len(set(header)) != len(header):
        return ("missing_column", "duplicate column names in header: "
                + mask_text(",".join(header))[:500])
    # Names are case-sensitive: a near miss ('Team_Code', 'id_card_no ') is not the column, and
    # loading without it would quietly null an optional one.
    by_near = {_near(n): n for n in ds.names}
    near = [(h, by_near[_near(h)]) for h in header if h not in names and _near(h) in by_near]
    if near:
        return ("missing_column", "column names are case-sensitive: " + ", ".join(
            f"{show(h, 40)} is not {n!r}" for h, n in near))
    # Columns whose values are optional may be absent (loaded as null); required ones may not.
    missing = [c.name for c in ds.columns if c.required and c.name not in header]
    if missing:
        return ("missing_column", "missing columns: " + ", ".join(missing))
    return None


_CACHED_HEADER_CHARS = 2000
_header_problem_cached = lru_cache(maxsize=256)(_header_problem)
