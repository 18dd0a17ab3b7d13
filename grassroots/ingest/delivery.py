"""What a facility-day folder is while a run handles it: the delivery and its data files."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path


@dataclass
class DataFile:
    dataset: str
    file_name: str
    path: Path
    rows: int | None  # stated in the manifest
    sha256: str | None  # stated in the manifest
    actual_sha256: str | None = None
    read_path: Path | None = None  # what DuckDB read: the file, or a UTF-8 copy of it
    header: list[str] | None = None
    rejected: tuple[str, str] | None = None  # (reason, detail) for a whole-file rejection
    file_id: int = 0
    data: bytes | None = None  # the file's bytes while its chunk loads (hashed, archived once)
    data_sha256: str | None = None  # sha256 of ``data``, computed where it was read
    utf8: bytes | None = None  # ``data`` as UTF-8 (``data`` itself unless transcoded)


@dataclass
class Delivery:
    facility_code: str
    business_date: date
    folder: Path
    version: int | None = None
    content_sha256: str | None = None
    generated_at: datetime | None = None
    encoding: str | None = None
    files: list[DataFile] = field(default_factory=list)
    status: str = "loaded"
    detail: str = ""
    rows_loaded: int = 0
    rows_quarantined: int = 0
    archive_path: str | None = None
    manifest: bytes | None = None  # manifest.json as delivered
    file_problems: list[tuple[str, str, str]] = field(default_factory=list)  # file, reason, detail
    prior: list = field(default_factory=list)  # audit rows already recorded for this facility-day
    unlisted: list[str] = field(default_factory=list)  # dataset files the manifest leaves out

    @property
    def files_rejected(self) -> int:
        return sum(1 for f in self.files if f.rejected)

    def mark(self, status: str, problems: list[str]) -> None:
        self.status, self.detail = status, "; ".join(problems)

    def mark_file_problems(self) -> None:
        """Incomplete: a file disagrees with the manifest (nothing of the folder loads)."""
        self.status = "incomplete"
        self.detail = "; ".join(f"{f}: {r}" for f, r, _ in self.file_problems)
