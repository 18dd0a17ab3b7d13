"""Results of a validation run, as plain JSON-able dataclasses (they travel through Airflow XCom)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Failure:
    """One expectation that did not pass (failed, or errored — an error is never a pass)."""

    suite: str
    check_id: str
    expectation: str
    target: str
    category: str
    subcategory: str
    severity: str  # error | warning
    observed: str  # observed value or "<n> unexpected (<pct>%)"
    unexpected_count: int | None = None
    sample: list[str] = field(default_factory=list)
    error: str | None = None  # exception message when the expectation raised

    @property
    def errored(self) -> bool:
        return self.error is not None


@dataclass
class Outlier:
    """A facility-day whose visit volume is far from the facility's own recent history."""

    facility_code: str
    date: str
    visits: int
    mean: float
    std: float
    z_score: float
    history_days: int


@dataclass
class QualityResult:
    layer: str  # raw | marts
    success: bool
    evaluated: int = 0
    failures: list[Failure] = field(default_factory=list)  # severity error (incl. errored)
    warnings: list[Failure] = field(default_factory=list)  # severity warning
    outliers: list[Outlier] = field(default_factory=list)
    suites: list[str] = field(default_factory=list)
    business_date: str | None = None
    data_docs: str | None = None  # path of the Data Docs index.html

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict | QualityResult | None) -> QualityResult | None:
        if d is None or isinstance(d, QualityResult):
            return d
        d = dict(d)
        d["failures"] = [Failure(**f) for f in d.get("failures", [])]
        d["warnings"] = [Failure(**f) for f in d.get("warnings", [])]
        d["outliers"] = [Outlier(**o) for o in d.get("outliers", [])]
        return cls(**d)

    def summary(self) -> str:
        errored = sum(1 for f in self.failures if f.errored)
        return (f"{self.layer}: {'PASS' if self.success else 'FAIL'} — {self.evaluated} "
                f"expectations in {len(self.suites)} suites, {len(self.failures)} failed "
                f"({errored} errored), {len(self.warnings)} warnings, "
                f"{len(self.outliers)} outliers; Data Docs: {self.data_docs}")
