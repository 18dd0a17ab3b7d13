"""The dashboards as data: one YAML file per dashboard under ``dashboards/specs/``.

A spec names the dashboard (key, title, slug, order, intro), its native filters besides the
month (``district``, ``community``, ``facility``, ``team``, ``disease``) and its rows of charts.
A chart is a mapping whose first key is its kind and the chart's key (``kpi: ov_gs``); the other
entries are the arguments of the builder of that kind in ``grassroots.superset.charts``
(``dataset`` is the dataset key of ``grassroots.superset.datasets``).  ``dashboards/specs/README.md``
lists them.  ``load`` turns the files into ``Dashboard`` objects; ``grassroots.superset.authoring``
renders those into the Superset bundle.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from grassroots.superset.charts import Chart, counts, kpi, rates, rows, table, where
from grassroots.superset.datasets import CAT, uid, zh

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "dashboards" / "specs"

BUILDERS: dict[str, Callable[..., Chart]] = {
    "kpi": kpi, "rates": rates, "counts": counts, "table": table, "raw": rows}
# a dashboard's native filters besides the month: name -> (Chinese label, column)
FILTER_COLUMNS = {
    "district": ("区县", "district_name"),
    "community": ("社区", "community_name"),
    "facility": ("医疗机构", "facility_name"),
    "team": ("家庭医生团队", "team_name"),
    "disease": ("病种", "disease"),
}
DRILL = "在柱状图上右键“钻取”（Drill by）可逐级查看；点击图形可交叉筛选。"
_FILTER = re.compile(r"^\s*(\w+)\s*(==|!=|<=|>=|<|>)\s*(.+?)\s*$")


class SpecError(ValueError):
    """A dashboard spec that cannot be rendered; the message names the file and the chart."""


@dataclass
class Dashboard:
    key: str
    title: str
    slug: str
    intro: str
    rows: list[list[Chart]]
    filters: list[str]  # district, community, facility, team, disease; the month filter is always there
    period: Chart = field(init=False)

    def __post_init__(self) -> None:
        self.period = rows(f"{self.key}_period", "统计期", "period",
                           ["range_label", "as_of_label", "year_label"], order=[], search=False,
                           width=5, height=34)

    @property
    def uuid(self) -> str:
        return uid("dashboard", self.key)

    @property
    def charts(self) -> list[Chart]:
        return [self.period, *(c for row in self.rows for c in row)]


def _filter(text: str) -> dict[str, Any]:
    """``"disease == 高血压"``, ``"rank <= 10"``: an ad hoc WHERE filter (numbers as numbers)."""
    m = _FILTER.match(str(text))
    if not m:
        raise SpecError(f"filter {text!r}: expected '<column> <op> <value>'")
    col, op, val = m.groups()
    return where(col, int(val) if re.fullmatch(r"-?\d+", val) else val, op)


def _order(items: list[str]) -> list[tuple[str, bool]]:
    out = []
    for item in items:
        col, _, direction = str(item).partition(" ")
        if direction not in ("asc", "desc"):
            raise SpecError(f"order {item!r}: expected '<column> asc' or '<column> desc'")
        out.append((col, direction == "asc"))
    return out


def chart(spec: dict[str, Any]) -> Chart:
    """A chart from its spec entry (see the module's doc)."""
    spec = dict(spec)
    kind = next(iter(spec), None)
    if kind not in BUILDERS:
        raise SpecError(f"a chart starts with its kind, one of {sorted(BUILDERS)}: {spec}")
    key = spec.pop(kind)
    args: dict[str, Any] = {"ds": spec.pop("dataset", None)}
    if "catalogue_name" in spec:  # the title: a catalogue indicator's Chinese name
        code = spec.pop("catalogue_name")
        if code not in CAT:
            raise SpecError(f"{key}: {code!r} is not in the metric catalogue")
        args["title"] = zh(code)
    missing = [c for c in spec.get("targets") or [] if c not in CAT]
    if missing:
        raise SpecError(f"{key}: targets {missing} are not in the metric catalogue")
    if "filters" in spec:
        args["filters"] = [_filter(f) for f in spec.pop("filters")]
    if "order" in spec:
        args["order"] = _order(spec.pop("order"))
    try:
        return BUILDERS[kind](key, **args, **spec)
    except (TypeError, AssertionError, KeyError, StopIteration) as e:
        raise SpecError(f"chart {key} ({kind}): {e!r}") from e


def dashboard(spec: dict[str, Any]) -> Dashboard:
    unknown = set(spec) - {"key", "title", "slug", "order", "intro", "drill_hint", "filters", "rows"}
    if unknown:
        raise SpecError(f"unknown entries {sorted(unknown)}")
    bad = [f for f in spec.get("filters", []) if f not in FILTER_COLUMNS]
    if bad:
        raise SpecError(f"unknown filters {bad}; a dashboard may filter by {list(FILTER_COLUMNS)}")
    intro = spec["intro"] + (DRILL if spec.get("drill_hint") else "")
    chart_rows = [[chart(c) for c in row] for row in spec["rows"]]
    return Dashboard(spec["key"], spec["title"], spec["slug"], intro, chart_rows, list(spec.get("filters", [])))


def load(folder: Path = SPECS) -> list[Dashboard]:
    """Every ``*.yml`` of ``folder``, in the specs' ``order``."""
    specs = []
    for path in sorted(folder.glob("*.yml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(spec, dict) or spec.get("slug") != path.stem:
            raise SpecError(f"{path}: a mapping whose slug is the file's name ({path.stem})")
        specs.append((spec.get("order", 0), path, spec))
    out = []
    for _, path, spec in sorted(specs, key=lambda s: (s[0], s[1].name)):
        try:
            out.append(dashboard(spec))
        except (SpecError, KeyError) as e:
            raise SpecError(f"{path.name}: {e}") from e
    # the charts' ids inside the bundle (position and filter scopes): in order, whatever was built before
    ids = iter(range(1, 10_000))
    for dash in out:
        for c in [*(c for row in dash.rows for c in row), dash.period]:
            c.local_id = next(ids)
    return out
