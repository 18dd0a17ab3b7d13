"""Delivery anomalies a real regional platform sees, injected on purpose and recorded in truth.json.

Randomness comes from its own stream (seeded from the run's seed), so the clean content of a
region is the same whether anomalies are on or off; only the injected changes differ.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from datetime import date, timedelta

import numpy as np

from grassroots import contract
from grassroots.generate import idcard


@dataclass(frozen=True)
class Anomalies:
    """What goes wrong in the deliveries.  With ``enabled=False`` nothing does and the other
    knobs are ignored, except ``omit_empty_share``: the standard allows leaving an empty dataset
    out of a manifest, so that happens in a clean region too."""

    enabled: bool = True
    bad_row_share: float = 0.002  # rows that break one rule (every reason at least once)
    late_entry_share: float = 0.004  # rows entered 1-5 days after the event
    correction_share: float = 0.0005  # visits whose fee is corrected and re-sent later
    redeliveries: int = 2  # facility-days delivered again complete (v1 missed some visits)
    missing_share: float = 0.003  # facility-days that never arrive
    outage_days: int = 4  # consecutive days one hospital delivers nothing
    bom_share: float = 0.02  # UTF-8 files with a byte-order mark
    gbk_centre: bool = True  # one centre (a township one if any) delivers in GBK
    late_delivery_share: float = 0.02  # folders generated after the 06:00 deadline
    slow_facility_late_share: float = 0.30  # ... and for one slow centre
    bad_encoding_files: int = 0  # files with GBK bytes in a folder declared UTF-8
    missing_column_files: int = 0  # files without their resident_id column
    omit_empty_share: float = 0.03  # empty datasets left out of the manifest

    def in_effect(self) -> Anomalies:
        """The knobs that act: when disabled, every share and count zero."""
        if self.enabled:
            return self
        off = {f.name: type(f.default)() for f in fields(self) if f.name != "omit_empty_share"}
        return replace(self, **off)


# Row-level reasons (file-level ones are bad_encoding / missing_column).
ROW_REASONS: tuple[str, ...] = tuple(
    r for r in contract.REASONS if r not in ("bad_encoding", "missing_column")
)

Row = list[str]
Mutator = Callable[[Row, dict[str, int], date], Row | None]


def _set(col: str, value: Callable[[str, date], str | None]) -> Mutator:
    def f(row: Row, pos: dict[str, int], bd: date) -> Row | None:
        new = value(row[pos[col]], bd)
        if new is None:
            return None
        out = list(row)
        out[pos[col]] = new
        return out

    return f


def _money_plus(v: str, _: date) -> str:
    return f"{float(v) + 1:.2f}"


def _neg(v: str, _: date) -> str:
    return "-" + v if v not in ("", "0.00", "0") else "-1.00"


def _wrong_check(v: str, _: date) -> str | None:
    return idcard.wrong_check(v) if len(v) == 18 else None


def _shift_birth(v: str, _: date) -> str:
    y, m, d = (int(x) for x in v.split("-"))
    return date(y - 1, m, min(d, 28)).isoformat()


def _future_ts(_: str, bd: date) -> str:
    return f"{(bd + timedelta(days=1)).isoformat()}T09:30:00"


def _future_date(_: str, bd: date) -> str:
    return (bd + timedelta(days=2)).isoformat()


def _nonempty(value: str) -> Callable[[str, date], str | None]:
    return lambda v, _: value if v else None


def _flip(v: str, _: date) -> str:
    return "down" if v == "up" else "up"


def _discharge_before_admit(row: Row, pos: dict[str, int], bd: date) -> Row | None:
    out = list(row)
    admit = np.datetime64(row[pos["admit_time"]])
    out[pos["discharge_time"]] = str(admit - np.timedelta64(2, "h"))
    return out


# dataset -> reason -> mutation.  Each mutation breaks exactly one rule (the reason given); the
# duplicate_key reason is handled separately (the row is repeated at the end of the file).
MUTATORS: dict[str, dict[str, Mutator]] = {
    "outpatient_visits": {
        "type_error": _set("total_fee", lambda v, _: v + "元"),
        "missing_required": _set("diagnosis_code", lambda v, _: ""),
        "unknown_facility": _set("facility_code", lambda v, _: "H000000000"),
        "unknown_team": _set("team_code", lambda v, _: "T00000000000"),
        "bad_icd10": _set("diagnosis_code", lambda v, _: "I1O"),
        "bad_id_checksum": _set("id_card_no", _wrong_check),
        "future_date": _set("visit_time", _future_ts),
        "fee_mismatch": _set("total_fee", _money_plus),
        "bad_enum": _set("visit_type", lambda v, _: "门诊"),
    },
    "prescriptions": {
        "type_error": _set("days_supply", lambda v, _: v + "天"),
        "unknown_drug": _set("drug_code", lambda v, _: "D99999"),
        "negative_amount": _set("amount", _neg),
        "orphan_row": _set("visit_id", lambda v, _: "V19000101" + v[-7:]),
        "out_of_range": _set("days_supply", lambda v, _: "120"),
    },
    "referrals": {
        "bad_direction": _set("direction", _flip),
        "bad_enum": _set("status", lambda v, _: "done"),
        "unknown_facility": _set("to_facility_code", lambda v, _: "H000000000"),
        "missing_required": _set("resident_id", lambda v, _: ""),
        "future_date": _set("referral_time", _future_ts),
    },
    "chronic_followups": {
        "out_of_range": _set("sbp", _nonempty("400")),
        "unknown_team": _set("team_code", lambda v, _: "T00000000000"),
        "bad_enum": _set("mode", lambda v, _: "wechat"),
        "type_error": _set("sbp", _nonempty("13O")),
        "future_date": _set("followup_date", _future_date),
    },
    "health_checkups": {
        "out_of_range": _set("items_completed", lambda v, _: "9"),
        "type_error": _set("items_completed", lambda v, _: "八"),
        "future_date": _set("checkup_date", _future_date),
    },
    "health_records": {
        "bad_id_checksum": _set("id_card_no", _wrong_check),
        "id_birthdate_mismatch": _set("birth_date", _shift_birth),
        "bad_enum": _set("sex", lambda v, _: "U"),
        "missing_required": _set("sex", lambda v, _: ""),
    },
    "signings": {
        "fee_mismatch": _set("fee_self", _money_plus),
        "unknown_team": _set("team_code", lambda v, _: "T00000000000"),
        "bad_enum": _set("package_code", lambda v, _: "vip"),
        "bad_id_checksum": _set("id_card_no", _wrong_check),
    },
    "inpatient_discharges": {
        "fee_mismatch": _set("self_paid", _money_plus),
        "bad_enum": _set("discharge_status", lambda v, _: "recovered"),
        "negative_amount": _set("drug_fee", _neg),
        "out_of_range": _discharge_before_admit,
    },
    "bed_census": {
        "type_error": _set("occupied_beds", lambda v, _: v + ".5"),
    },
}
DUPLICABLE = {
    "outpatient_visits",
    "prescriptions",
    "referrals",
    "chronic_followups",
    "health_records",
}


def key_of(dataset: str, row: Row, pos: dict[str, int]) -> str:
    return "|".join(row[pos[k]] for k in contract.DATASETS[dataset].key)


class BadRows:
    """Chooses and applies bad rows; guarantees every row reason appears at least once."""

    def __init__(self, rng: np.random.Generator, share: float) -> None:
        self.rng, self.share = rng, share
        self.uncovered = list(ROW_REASONS)
        self.records: list[dict] = []

    def inject(
        self,
        dataset: str,
        bd: date,
        folder_code: str,
        header: list[str],
        rows: list[Row],
        eligible: np.ndarray,
    ) -> list[Row]:
        if self.share <= 0 or not rows:
            return rows
        reasons = list(MUTATORS.get(dataset, {})) + (
            ["duplicate_key"] if dataset in DUPLICABLE else []
        )
        cand = np.flatnonzero(eligible)
        if not reasons or len(cand) == 0:
            return rows
        n_bad = int(self.rng.binomial(len(rows), self.share))
        todo = [r for r in self.uncovered if r in reasons][:1]  # force one uncovered reason
        todo += [reasons[i] for i in self.rng.integers(0, len(reasons), n_bad)]
        pos = {c: i for i, c in enumerate(header)}
        used: set[int] = set()
        rows = list(rows)
        extra: list[tuple[Row, dict]] = []
        for reason in todo:
            for _ in range(8):  # a few tries: some mutations need a non-empty field
                i = int(cand[self.rng.integers(0, len(cand))])
                if i in used:
                    continue
                if reason == "duplicate_key":
                    rec = self._record(dataset, bd, folder_code, rows[i], pos, i + 2, reason)
                    rec["note"] = "original row; its duplicate is also quarantined"
                    dup = self._record(dataset, bd, folder_code, rows[i], pos, -1, reason)
                    dup["note"] = f"duplicate of line {i + 2}"
                    extra.append((list(rows[i]), dup))
                    self.records.append(rec)
                else:
                    new = MUTATORS[dataset][reason](rows[i], pos, bd)
                    if new is None:
                        continue
                    self.records.append(
                        self._record(dataset, bd, folder_code, rows[i], pos, i + 2, reason)
                    )
                    rows[i] = new
                used.add(i)
                if reason in self.uncovered:
                    self.uncovered.remove(reason)
                break
        for row, rec in extra:
            rows.append(row)
            rec["line_no"] = len(rows) + 1  # header is line 1
            self.records.append(rec)
        return rows

    @staticmethod
    def _record(
        dataset: str,
        bd: date,
        folder_code: str,
        row: Row,
        pos: dict[str, int],
        line_no: int,
        reason: str,
    ) -> dict:
        return {
            "dataset": dataset,
            "business_date": bd.isoformat(),
            "facility": folder_code,
            "file": f"extracts/{bd.isoformat()}/{folder_code}/{dataset}.csv",
            "line_no": line_no,
            "reason": reason,
            "key": key_of(dataset, row, pos),
        }
