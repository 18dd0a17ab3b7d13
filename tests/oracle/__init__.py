"""Independent correctness oracle for the warehouse marts.

Reads a landing zone straight from its CSV files with pandas (``landing.load_landing``),
recomputes every mart of the indicator definitions from the specs alone (``marts.expected_*``) and
compares against what the warehouse produced (``compare.compare_frames``). Nothing here reads
the loader, the generator or the dbt SQL; ``grassroots.contract`` is used for names only.
"""

from .compare import compare_frames, compare_warehouse
from .landing import load_landing
from .marts import MARTS, expected_all

__all__ = ["MARTS", "compare_frames", "compare_warehouse", "expected_all", "load_landing"]
