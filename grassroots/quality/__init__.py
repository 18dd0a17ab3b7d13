"""Data quality: Great Expectations suites over the raw layer and the marts.

    from grassroots.quality import record, validate_marts, validate_raw
    raw = validate_raw(warehouse, business_date)      # -> QualityResult
    marts = validate_marts(warehouse, business_date)  # -> QualityResult (incl. outliers)
    record(warehouse, raw); record(warehouse, marts)  # history: audit.validation_results

Suites live in ``expectations/suites/*.json`` (regenerate with
``python -m grassroots.quality.checks``); see ``expectations/README.md``.
"""

from grassroots.quality.arrivals import Arrivals, check_arrivals, expected_facilities
from grassroots.quality.checks import write_expectations
from grassroots.quality.history import record
from grassroots.quality.result import Failure, Outlier, QualityResult
from grassroots.quality.runner import Runner, validate_marts, validate_raw

__all__ = [
    "Arrivals",
    "Failure",
    "Outlier",
    "QualityResult",
    "Runner",
    "check_arrivals",
    "expected_facilities",
    "record",
    "validate_marts",
    "validate_raw",
    "write_expectations",
]
