"""Static content of the synthetic region: drug catalogue, diagnosis pools, departments, names.

Everything here is plain data; the codes are real (WHO ATC, WHO ICD-10 categories/subcodes and the
national 诊疗科目 department codes) so the marts' joins to code lists work on generated data.
"""

from __future__ import annotations

# (generic_name, atc_code, essential, vbp, kind, daily_price_fen)
# kind: ht (C02-C10 antihypertensive/lipid), dm (A10), abx (J01), resp, gi, pain, other, tcm
DRUGS: tuple[tuple[str, str, bool, bool, str, int], ...] = (
    ("苯磺酸氨氯地平片", "C08CA01", True, True, "ht", 60),
    ("硝苯地平控释片", "C08CA05", True, True, "ht", 150),
    ("缬沙坦胶囊", "C09CA03", True, True, "ht", 90),
    ("氯沙坦钾片", "C09CA01", True, True, "ht", 80),
    ("厄贝沙坦片", "C09CA04", True, True, "ht", 70),
    ("马来酸依那普利片", "C09AA02", True, True, "ht", 30),
    ("盐酸贝那普利片", "C09AA07", True, False, "ht", 180),
    ("酒石酸美托洛尔片", "C07AB02", True, True, "ht", 20),
    ("富马酸比索洛尔片", "C07AB07", True, True, "ht", 50),
    ("氢氯噻嗪片", "C03AA03", True, False, "ht", 10),
    ("吲达帕胺片", "C03BA11", True, True, "ht", 40),
    ("阿托伐他汀钙片", "C10AA05", True, True, "ht", 40),
    ("瑞舒伐他汀钙片", "C10AA07", True, True, "ht", 50),
    ("盐酸二甲双胍片", "A10BA02", True, True, "dm", 30),
    ("格列齐德缓释片", "A10BB09", True, True, "dm", 60),
    ("格列美脲片", "A10BB12", True, True, "dm", 40),
    ("阿卡波糖片", "A10BF01", True, True, "dm", 120),
    ("甘精胰岛素注射液", "A10AE04", True, True, "dm", 600),
    ("磷酸西格列汀片", "A10BH01", False, True, "dm", 150),
    ("阿莫西林胶囊", "J01CA04", True, True, "abx", 150),
    ("阿莫西林克拉维酸钾片", "J01CR02", True, True, "abx", 400),
    ("头孢呋辛酯片", "J01DC02", True, True, "abx", 500),
    ("头孢克洛胶囊", "J01DC04", True, True, "abx", 600),
    ("注射用头孢曲松钠", "J01DD04", True, True, "abx", 1200),
    ("头孢克肟胶囊", "J01DD08", False, True, "abx", 700),
    ("阿奇霉素片", "J01FA10", True, True, "abx", 450),
    ("克拉霉素片", "J01FA09", True, False, "abx", 500),
    ("左氧氟沙星片", "J01MA12", True, True, "abx", 350),
    ("莫西沙星片", "J01MA14", False, True, "abx", 900),
    ("奥美拉唑肠溶胶囊", "A02BC01", True, True, "gi", 80),
    ("泮托拉唑钠肠溶片", "A02BC02", True, True, "gi", 120),
    ("蒙脱石散", "A07BC05", True, False, "gi", 200),
    ("多潘立酮片", "A03FA03", True, False, "gi", 150),
    ("布洛芬缓释胶囊", "M01AE01", True, True, "pain", 100),
    ("双氯芬酸钠缓释片", "M01AB05", True, False, "pain", 80),
    ("对乙酰氨基酚片", "N02BE01", True, False, "pain", 40),
    ("阿司匹林肠溶片", "B01AC06", True, True, "other", 20),
    ("硫酸氢氯吡格雷片", "B01AC04", True, True, "other", 150),
    ("氯雷他定片", "R06AX13", True, True, "resp", 100),
    ("盐酸氨溴索片", "R05CB06", True, True, "resp", 120),
    ("氢溴酸右美沙芬片", "R05DA09", False, False, "resp", 150),
    ("硫酸沙丁胺醇吸入气雾剂", "R03AC02", True, True, "resp", 300),
    ("布地奈德福莫特罗吸入粉雾剂", "R03AK07", False, False, "resp", 900),
    ("孟鲁司特钠片", "R03DC03", True, True, "resp", 250),
    ("左甲状腺素钠片", "H03AA01", True, False, "other", 50),
    ("醋酸泼尼松片", "H02AB07", True, False, "other", 20),
    ("艾司唑仑片", "N05CD04", True, False, "other", 30),
    ("盐酸舍曲林片", "N06AB06", False, True, "other", 300),
    ("利培酮片", "N05AX08", True, True, "other", 200),
    ("维生素D滴剂", "A11CC05", False, False, "other", 60),
    ("连花清瘟胶囊", "", True, False, "tcm", 600),
    ("复方丹参滴丸", "", True, False, "tcm", 400),
    ("六味地黄丸", "", True, False, "tcm", 200),
)

# Outpatient diagnoses (ICD-10) and their weight, plus the drug kinds a visit for it draws from.
# (code, weight_grassroots, weight_hospital, drug kinds, antibiotic probability)
OUTPATIENT_DX: tuple[tuple[str, float, float, tuple[str, ...], float], ...] = (
    ("J06.9", 16, 8, ("resp", "pain", "tcm"), 0.30),
    ("J20.9", 6, 4, ("resp", "tcm"), 0.45),
    ("J18.9", 1.5, 3, ("resp",), 0.85),
    ("J44.9", 1.5, 2, ("resp",), 0.15),
    ("J45.9", 1, 1.5, ("resp",), 0.05),
    ("K29.7", 5, 4, ("gi",), 0.05),
    ("K52.9", 3, 2, ("gi",), 0.20),
    ("K21.9", 1, 2, ("gi",), 0.0),
    ("A09", 1.5, 1, ("gi",), 0.30),
    ("M54.5", 4, 3, ("pain",), 0.0),
    ("M17.9", 2.5, 2.5, ("pain",), 0.0),
    ("R51", 2, 1.5, ("pain",), 0.0),
    ("R10.4", 2, 2.5, ("gi",), 0.02),
    ("R50.9", 2, 2, ("pain", "resp"), 0.25),
    ("N39.0", 2, 2, ("other",), 0.85),
    ("L30.9", 3, 3, ("other",), 0.0),
    ("H10.9", 1.5, 1.5, ("other",), 0.10),
    ("K02.9", 0.5, 2.5, ("pain",), 0.10),
    ("E78.5", 2, 2, ("ht",), 0.0),
    ("I25.1", 1.5, 2.5, ("other", "ht"), 0.0),
    ("I69.3", 1.5, 1, ("other",), 0.0),
    ("I48", 0.2, 0.6, ("other",), 0.0),
    ("G47.0", 1.5, 1.5, ("other",), 0.0),
    ("F32.9", 0.3, 1, ("other",), 0.0),
    ("E03.9", 0.5, 1, ("other",), 0.0),
    ("N18.9", 0.2, 0.8, ("other",), 0.0),
    ("C34.9", 0.1, 1.2, ("other",), 0.0),
    ("B02.9", 0.5, 0.6, ("pain",), 0.0),
    ("T14.0", 1.5, 2, ("pain",), 0.10),
    ("S93.4", 0.8, 1.2, ("pain",), 0.0),
    ("Z00.0", 3, 1.5, (), 0.0),
    ("Z76.0", 2, 0.5, ("ht", "dm"), 0.0),
)
HYPERTENSION_DX = ("I10", "I10", "I10", "I11.9")
DIABETES_DX = ("E11.9", "E11.9", "E11.9", "E14.9")
PREGNANCY_DX = "Z34.9"

# Department codes (诊疗科目): 02 general practice, 03 internal medicine, 04 surgery,
# 05 obstetrics and gynaecology, 07 paediatrics, 10 ophthalmology, 11 ENT, 12 stomatology,
# 13 dermatology, 15 psychiatry, 19 oncology, 20 emergency, 21 rehabilitation, 28 intensive care,
# 50 traditional Chinese medicine.

# Inpatient diagnoses per department code.
INPATIENT_DX: dict[str, tuple[str, ...]] = {
    "03": ("I63.9", "I25.1", "J18.9", "J44.1", "I50.9", "E11.9", "I10", "N18.9", "K29.7"),
    "04": ("K80.2", "K35.8", "S72.0", "K40.9", "M48.0", "C18.9", "S82.2"),
    "05": ("O80", "O82", "D25.9", "N83.2", "O80"),
    "07": ("J18.9", "J20.9", "A09", "J06.9", "R56.0"),
    "15": ("F20.9", "F32.9", "F31.9"),
    "19": ("C34.9", "C16.9", "C50.9", "C22.0"),
    "21": ("I69.3", "Z50.9", "M54.5", "S72.0"),
    "28": ("I46.9", "J96.0", "A41.9", "I21.9"),
    "50": ("M54.5", "I63.9", "M17.9", "J44.9", "G47.0"),
    "02": ("J18.9", "I63.9", "I10", "E11.9", "J44.9", "I69.3"),
}
# Ward departments (with beds) by facility kind, in the order beds are handed out.
WARDS: dict[str, tuple[str, ...]] = {
    "general": ("03", "04", "05", "07", "19", "21", "28", "50"),
    "tcm": ("50", "03", "04", "21"),
    "maternal": ("05", "07"),
    "psychiatric": ("15",),
    "centre": ("02", "21"),
}
# Outpatient departments by facility kind.
CLINICS: dict[str, tuple[str, ...]] = {
    "general": ("03", "04", "05", "07", "10", "11", "12", "13", "20", "50"),
    "tcm": ("50", "03", "04", "21", "20"),
    "maternal": ("05", "07", "20"),
    "psychiatric": ("15", "03"),
    "centre": ("02", "50", "12", "21"),
    "station": ("02",),
}

DISTRICT_NAMES_URBAN = ("上城区", "江北区", "临湖区", "新城区", "滨江区", "东岭区", "西溪区")
DISTRICT_NAMES_RURAL = ("青山县", "安平县", "桐溪县", "石门县", "云溪县", "松阳县")
PLACE_CHARS = "和平文昌新华解放长安光明朝阳东风建设胜利人民友谊红旗幸福振兴金桥翠湖望江" + (
    "白沙青石柳桥松林梅园竹溪枫岭桃源杏花荷塘兰亭清泉碧水龙山凤鸣鹤岗鹿鸣云峰"
)
BLOOD_TYPES = ("A", "B", "O", "AB")
ALLERGIES = ("无", "无", "无", "青霉素", "磺胺类", "头孢类", "海鲜")
PAST_HISTORY = ("无", "无", "高血压", "糖尿病", "阑尾切除术", "骨折", "胆囊炎")
FAMILY_HISTORY = ("无", "无", "高血压", "糖尿病", "脑卒中", "冠心病")
OCCUPATIONS = ("农民", "工人", "职员", "退休", "学生", "个体经营", "无业", "专业技术人员")
EDUCATION = ("文盲", "小学", "初中", "高中", "中专", "大专", "本科", "研究生")
