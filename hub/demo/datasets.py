"""Synthetic raw datasets of the demo world: specs, generation and Parquet export.

Five departments each hold one dataset. Rows are drawn from a shared, seeded city (see
:mod:`hub.demo.pools`), so for the same ``rows`` and ``seed`` the datasets join: tax records and
social insurance refer to enterprises of the registry, and people recur across datasets.

Column dtypes follow :attr:`ColumnSpec.type`: ``string`` is pandas' ``str`` dtype (missing values
are NaN), ``int`` is int64, ``float`` is float64, ``date`` is ``datetime64[ns]`` normalized to
midnight, and ``datetime`` is ``datetime64[ns]`` with whole seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from hub.demo import pools
from hub.demo.pools import STR, cat, draw, text, zfill

ColumnType = Literal["string", "int", "float", "date", "datetime"]
PiiKind = Literal[
    "resident_id", "mobile", "name", "address", "uscc", "bank_card", "plate", "email", "free_text"
]


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a dataset: name, Chinese title, type and sensitivity markers."""

    name: str
    title: str
    type: ColumnType
    pii: PiiKind | None = None
    quasi: bool = False
    # A fixed masking policy ({"operator", "params"}); PII columns otherwise get the one suggested
    # for their kind. Quasi-identifiers are coarsened so that k-anonymity keeps most rows.
    mask: dict[str, object] | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """A department's dataset: identity, classification level (1-4) and columns."""

    name: str
    title: str
    department: str
    level: int
    columns: list[ColumnSpec]

    def schema(self) -> list[dict[str, object]]:
        """Return the column specs as JSON-able dicts, in column order."""
        return [asdict(c) for c in self.columns]


C = ColumnSpec


def _masked(operator: str, **params: object) -> dict[str, object]:
    return {"operator": operator, "params": params, "suggested": False}


# fmt: off
DATASETS: list[DatasetSpec] = [
    DatasetSpec("enterprise_registry", "企业登记注册信息", "市市场监督管理局", 2, [
        C("uscc", "统一社会信用代码", "string", pii="uscc"),
        C("company_name", "企业名称", "string", mask=_masked("surrogate", kind="company")),
        C("legal_rep_name", "法定代表人姓名", "string", pii="name"),
        C("legal_rep_id", "法定代表人身份证号码", "string", pii="resident_id"),
        C("registered_capital", "注册资本（万元）", "float"),
        C("established_date", "成立日期", "date"),
        C("industry", "行业门类", "string"),
        C("district", "所属区县", "string", quasi=True),
        C("address", "住所", "string", pii="address"),
        C("status", "登记状态", "string"),
    ]),
    DatasetSpec("tax_records", "企业纳税申报记录", "市税务局", 3, [
        C("uscc", "纳税人识别号", "string", pii="uscc"),
        C("tax_year", "所属年度", "int"),
        C("tax_month", "所属月份", "int"),
        C("tax_type", "税种", "string"),
        C("tax_payable", "应纳税额（元）", "float"),
        C("tax_paid", "已缴税额（元）", "float"),
        C("credit_grade", "纳税信用等级", "string"),
    ]),
    DatasetSpec("social_insurance", "社会保险参保缴费信息", "市人力资源和社会保障局", 3, [
        C("resident_id", "公民身份号码", "string", pii="resident_id"),
        C("name", "姓名", "string", pii="name"),
        C("gender", "性别", "string", quasi=True),
        C("birth_date", "出生日期", "date", quasi=True, mask=_masked("generalize", kind="year")),
        C("employer_uscc", "参保单位统一社会信用代码", "string", pii="uscc"),
        C("insurance_type", "险种", "string"),
        C("monthly_base", "月缴费基数（元）", "float"),
        C("months_paid", "累计缴费月数", "int"),
        C("district", "参保区县", "string", quasi=True),
    ]),
    DatasetSpec("medical_visits", "医疗机构门急诊就诊记录", "市卫生健康委员会", 4, [
        C("visit_id", "就诊流水号", "string", mask=_masked("pseudonym")),
        C("patient_id", "患者身份证号码", "string", pii="resident_id"),
        C("patient_name", "患者姓名", "string", pii="name"),
        C("mobile", "联系电话", "string", pii="mobile"),
        C("gender", "性别", "string", quasi=True),
        C("age", "年龄", "int", quasi=True, mask=_masked("generalize", kind="age_band")),
        C("hospital", "就诊医院", "string"),
        C("department", "就诊科室", "string"),
        C("diagnosis_code", "诊断编码（ICD-10）", "string"),
        C("diagnosis_name", "诊断名称", "string"),
        C("visit_time", "就诊时间", "datetime"),
        C("cost", "医疗费用（元）", "float"),
        C("notes", "病历摘要", "string", pii="free_text"),
    ]),
    DatasetSpec("transit_trips", "公共交通刷卡出行记录", "市交通运输局", 3, [
        C("card_no", "交通卡号", "string", mask=_masked("pseudonym")),
        C("holder_id", "持卡人身份证号码", "string", pii="resident_id"),
        C("board_station", "上车站点", "string", quasi=True),
        C("alight_station", "下车站点", "string", quasi=True),
        C("line", "线路", "string"),
        C("mode", "出行方式", "string"),
        C("tap_in_time", "刷卡时间", "datetime"),
        C("fare", "票价（元）", "float"),
        C("bus_plate", "车辆号牌", "string", pii="plate"),
    ]),
]
# fmt: on
del C


def get_spec(name: str) -> DatasetSpec:
    """Return the spec of the dataset called ``name``.

    Raises:
        KeyError: if there is no such dataset.
    """
    for spec in DATASETS:
        if spec.name == name:
            return spec
    raise KeyError(f"unknown demo dataset: {name!r}")


# --- builders: each returns {column: array} for `rows` rows --------------------------------------
Columns = dict[str, np.ndarray]


def _enterprise_registry(rows: int, seed: int) -> Columns:
    ent, people = pools.enterprises(rows, seed), pools.population(rows, seed)
    return {
        "uscc": ent.uscc,
        "company_name": ent.name,
        "legal_rep_name": people.name[ent.legal_rep],
        "legal_rep_id": people.resident_id[ent.legal_rep],
        "registered_capital": ent.capital,
        "established_date": ent.established,
        "industry": ent.industry,
        "district": pools.DISTRICT_NAMES[ent.district],
        "address": ent.address,
        "status": ent.status,
    }


# Tax type, filing months, share of enterprises liable, median amount per filing (yuan).
# City construction tax is 7% of the same month's VAT.
_TAXES = (
    ("增值税", range(1, 13), 1.0, 9000.0),
    ("城市维护建设税", range(1, 13), 1.0, 0.0),
    ("个人所得税", range(1, 13), 0.6, 2500.0),
    ("企业所得税", (3, 6, 9, 12), 1.0, 12000.0),
    ("印花税", (3, 6, 9, 12), 0.5, 150.0),
    ("房产税", (6, 12), 0.15, 1800.0),
)
_TAX_YEARS = (2023, 2024)
# By grade A, B, M, C, D: the share of firm-years graded so, and of their returns that are zero
# (idle months) or not paid in full.
_GRADE_SHARES = (0.25, 0.52, 0.08, 0.08, 0.07)
_ZERO_RETURNS = np.array([0.06, 0.07, 0.08, 0.20, 0.35])
_UNDERPAID = np.array([0.02, 0.03, 0.03, 0.35, 0.60])
_VAT, _CITY_TAX = 0, 1


def _tax_records(rows: int, seed: int) -> Columns:
    rng = pools.rng_for(seed, "tax_records", rows)
    ent = pools.enterprises(rows, seed)
    n_ent, n_periods = len(ent.uscc), 12 * len(_TAX_YEARS)
    # The filing calendar: (period, tax) pairs in period order; period 0 is January 2022.
    calendar = sorted(
        (12 * y + m - 1, t)
        for y in range(len(_TAX_YEARS))
        for t, months in enumerate(tax[1] for tax in _TAXES)
        for m in months
    )
    cal_period, cal_tax = np.array(calendar).T
    first_month = np.datetime64(f"{_TAX_YEARS[0]}-01", "M")
    opened = (ent.established.astype("datetime64[M]") - first_month).astype(np.int64)
    liable = rng.random((n_ent, len(_TAXES))) < np.array([t[2] for t in _TAXES])

    # Taxpayers in random order file every due return from their founding month on; take as many
    # taxpayers as needed for `rows` filings (every enterprise has at least two in Dec 2024).
    taxpayers = rng.permutation(n_ent)
    k = min(rows // len(calendar) + 1, n_ent)
    while True:
        pos = np.repeat(np.arange(k), len(calendar))
        period, tax = np.tile(cal_period, k), np.tile(cal_tax, k)
        due = (period >= opened[taxpayers[pos]]) & liable[taxpayers[pos], tax]
        if due.sum() >= rows or k == n_ent:
            break
        k = min(2 * k, n_ent)
    pos, period, tax = pos[due][:rows], period[due][:rows], tax[due][:rows]
    firm = taxpayers[pos]
    year = _TAX_YEARS[0] + period // 12

    # Credit grade per enterprise and year; firms in their founding year are graded M.
    grade = rng.choice(5, size=(n_ent, len(_TAX_YEARS)), p=_GRADE_SHARES)
    grade = grade[firm, year - _TAX_YEARS[0]]
    grade[pools.ymd(ent.established[firm])[0] >= year] = 2

    # Amounts scale with the firm; city construction tax follows the same month's VAT. Firms the
    # tax authority grades C or D file more zero returns and leave more returns unpaid (in part or
    # in full), as their grade says: the signal a credit team looks for in tax data.
    size = np.sqrt(ent.capital[taxpayers[:k]] / 100) * rng.lognormal(0, 0.6, k)
    vat = 9000.0 * size[pos] * rng.lognormal(0, 0.5, (k, n_periods))[pos, period]
    vat = np.where(rng.random(rows) < _ZERO_RETURNS[grade], 0.0, vat)  # idle months
    median = np.array([t[3] for t in _TAXES])[tax]
    other = median * size[pos] * rng.lognormal(0, 0.6, rows)
    payable = np.round(np.where(tax == _VAT, vat, np.where(tax == _CITY_TAX, 0.07 * vat, other)), 2)
    unpaid = np.where(rng.random(rows) < 0.5, 0.0, rng.uniform(0, 0.95, rows))
    share = np.where(rng.random(rows) < _UNDERPAID[grade], unpaid, 1.0)
    return {
        "uscc": ent.uscc[firm],
        "tax_year": year,
        "tax_month": period % 12 + 1,
        "tax_type": text([t[0] for t in _TAXES])[tax],
        "tax_payable": payable,
        "tax_paid": np.round(payable * share, 2),
        "credit_grade": text(list("ABMCD"))[grade],
    }


_INSURANCE_TYPES = ("企业职工基本养老保险", "职工基本医疗保险", "失业保险", "工伤保险", "生育保险")


def _social_insurance(rows: int, seed: int) -> Columns:
    rng = pools.rng_for(seed, "social_insurance", rows)
    people, ent = pools.population(rows, seed), pools.enterprises(rows, seed)
    workers = people.aged(18, 60)
    n_types = len(_INSURANCE_TYPES)
    pair = np.sort(pools.unique_ints(rng, len(workers) * n_types, rows))
    slot, kind = pair // n_types, pair % n_types
    who = workers[slot]
    # Employer and contribution base belong to the person, not to the insurance line.
    employer = draw(rng, ent.active(), len(workers))[slot]
    base = np.round(np.clip(rng.lognormal(np.log(7500), 0.5, len(workers)), 4462, 24930))[slot]
    age = pools.age_on(people.birth[who], pools.AS_OF)
    max_months = np.maximum((age - 18) * 12, 1)
    return {
        "resident_id": people.resident_id[who],
        "name": people.name[who],
        "gender": people.gender(who),
        "birth_date": people.birth[who],
        "employer_uscc": ent.uscc[employer],
        "insurance_type": text(_INSURANCE_TYPES)[kind],
        "monthly_base": base,
        "months_paid": (rng.random(rows) * max_months).astype(np.int64) + 1,
        "district": pools.DISTRICT_NAMES[ent.district[employer]],
    }


_HOSPITALS = (
    "浙江大学医学院附属第一医院", "浙江大学医学院附属第二医院", "浙江大学医学院附属邵逸夫医院",
    "浙江省人民医院", "杭州市第一人民医院", "杭州市中医院", "杭州市西溪医院", "杭州市红十字会医院",
    "杭州市萧山区第一人民医院", "杭州市余杭区第一人民医院", "杭州市富阳区第一人民医院",
    "杭州市临安区第一人民医院",
)  # fmt: skip
# ICD-10 code, Chinese name, department, chief complaint, median cost (yuan), relative frequency.
_DIAGNOSES = (
    ("J06.9", "急性上呼吸道感染", "呼吸内科", "咽痛、流涕", 180, 14),
    ("J18.9", "肺炎", "呼吸内科", "咳嗽、咳痰伴发热", 650, 4),
    ("J45.9", "哮喘", "呼吸内科", "反复喘息、胸闷", 420, 2),
    ("I10", "原发性高血压", "心血管内科", "头晕、头胀", 260, 10),
    ("I25.1", "动脉粥样硬化性心脏病", "心血管内科", "活动后胸闷、胸痛", 900, 3),
    ("E11.9", "2型糖尿病", "内分泌科", "口干、多饮、多尿", 380, 7),
    ("K29.7", "胃炎", "消化内科", "上腹部隐痛", 300, 8),
    ("A09", "感染性腹泻", "消化内科", "腹泻、腹痛", 220, 5),
    ("K35.8", "急性阑尾炎", "普外科", "转移性右下腹痛", 3200, 1),
    ("M54.5", "腰痛", "骨科", "腰背部疼痛", 350, 6),
    ("S93.4", "踝关节扭伤", "骨科", "踝部扭伤后肿痛", 280, 3),
    ("G43.9", "偏头痛", "神经内科", "反复发作性头痛", 320, 3),
    ("R51", "头痛", "神经内科", "头痛", 200, 4),
    ("H10.9", "结膜炎", "眼科", "双眼发红、异物感", 150, 4),
    ("J02.9", "急性咽炎", "耳鼻喉科", "咽部疼痛", 160, 6),
    ("L20.9", "特应性皮炎", "皮肤科", "皮肤瘙痒、红疹", 210, 4),
    ("K02.9", "龋病", "口腔科", "牙痛", 260, 5),
    ("N39.0", "泌尿道感染", "泌尿外科", "尿频、尿急、尿痛", 240, 3),
    ("R50.9", "发热", "急诊科", "发热", 300, 6),
    ("F41.1", "广泛性焦虑障碍", "精神心理科", "失眠、心慌、紧张不安", 400, 2),
)
_DURATIONS = ("1天", "2天", "三天", "一周", "半个月", "1个月", "3个月余", "半年")
_ADVICE = (
    "予对症处理",
    "嘱注意休息、多饮水",
    "完善血常规等相关检查",
    "予药物治疗，一周后复诊",
    "门诊随访",
)


def _medical_visits(rows: int, seed: int) -> Columns:
    rng = pools.rng_for(seed, "medical_visits", rows)
    people = pools.population(rows, seed)
    dx_table = list(zip(*_DIAGNOSES, strict=True))
    freq = np.array(dx_table[5], dtype=float)
    dx = rng.choice(len(_DIAGNOSES), size=rows, p=freq / freq.sum())
    emergency = text(dx_table[2])[dx] == "急诊科"
    # Clinics open 08:00-17:30; the emergency department never closes.
    secs = np.where(emergency, rng.integers(0, 86400, rows), rng.integers(28800, 63000, rows))
    when = np.datetime64("2024-01-01T00:00:00") + rng.integers(0, 366, rows) * 86400 + secs
    order = np.argsort(when, kind="stable")  # rows in visit order
    when, dx = when[order], dx[order]
    who = rng.integers(0, len(people.name), rows)
    day = when.astype("datetime64[D]")
    y, m, d = pools.ymd(day)
    seq = np.arange(rows) - np.searchsorted(day, day) + 1  # running number within the day
    age = pools.age_on(people.birth[who], day)
    name, mobile, rid = people.name[who], people.mobile[who], people.resident_id[who]
    gender = people.gender(who)

    # Doctors write phones three ways; some notes carry the patient's name, phone or ID.
    s = np.strings.slice
    style = rng.random(rows)
    phone = np.where(
        style < 0.7, mobile, cat(s(mobile, 3), "-", s(mobile, 3, 7), "-", s(mobile, 7, 11))
    )
    phone = np.where(
        style < 0.85, phone, cat(s(mobile, 3), " ", s(mobile, 3, 7), " ", s(mobile, 7, 11))
    )
    complaint = cat(text(dx_table[3])[dx], draw(rng, text(_DURATIONS), rows))
    advice = draw(rng, text(_ADVICE), rows)
    body = cat("主诉", complaint, "。", advice, "。")
    templates = [
        body,
        cat("患者", name, "，", gender, "，", age.astype(STR), "岁，", body),
        cat("患者", name, "，电话", phone, "，", body),
        cat(complaint, "，", advice, "。患者身份证号", rid, "，已核实医保身份。"),
        cat("复诊，", complaint, "，较前好转。", advice, "，随访电话", phone, "。"),
    ]
    kind = rng.choice(len(templates), size=rows, p=(0.5, 0.2, 0.12, 0.08, 0.1))
    notes = templates[0]
    for i, t in enumerate(templates[1:], start=1):
        notes = np.where(kind == i, t, notes)

    cost = np.array(dx_table[4], dtype=float)[dx] * rng.lognormal(0, 0.45, rows)
    return {
        "visit_id": cat("MZ", zfill(y * 10000 + m * 100 + d, 8), zfill(seq, 5)),
        "patient_id": rid,
        "patient_name": name,
        "mobile": mobile,
        "gender": gender,
        "age": age,
        "hospital": draw(rng, text(_HOSPITALS), rows),
        "department": text(dx_table[2])[dx],
        "diagnosis_code": text(dx_table[0])[dx],
        "diagnosis_name": text(dx_table[1])[dx],
        "visit_time": when,
        "cost": np.round(cost, 2),
        "notes": notes,
    }


_METRO = {
    "地铁1号线": "湘湖 滨康路 西兴 滨和路 江陵路 近江 婺江路 城站 定安路 龙翔桥 凤起路 武林广场 "
    "西湖文化广场 打铁关 闸弄口 火车东站 彭埠 七堡 九和路 九堡 客运中心 下沙西 金沙湖 高沙路 文泽路",
    "地铁2号线": "朝阳 曹家桥 潘水 人民路 杭发厂 人民广场 建设一路 建设三路 振宁路 飞虹路 盈丰路 "
    "钱江世纪城 钱江路 庆春广场 庆菱路 建国北路 中河北路 凤起路 武林门 沈塘桥 下宁桥 学院路 "
    "古翠路 丰潭路 文新 三坝 虾龙圩 三墩 墩祥街 金家渡 白洋 杜甫村 良渚",
    "地铁4号线": "浦沿 杨家墩 中医药大学 联庄 水澄桥 复兴路 南星桥 甬江路 近江 城星路 市民中心 "
    "江锦路 钱江路 景芳 新塘 新风 火车东站 彭埠 明石路 池华街",
}
_ROADS = (
    "文三路", "文二路", "文一路", "天目山路", "莫干山路", "延安路", "中山北路", "解放路", "庆春路",
    "体育场路", "环城北路", "湖墅南路", "教工路", "学院路", "古墩路", "紫金港路", "余杭塘路",
    "江南大道", "滨盛路", "市心路", "金城路", "临平大道",
)  # fmt: skip
_BUS_LINES, _STOPS_PER_LINE, _FLEET = 40, 18, 12


def _stations(names: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
    """Pad station lists into a matrix; also return each line's length."""
    width = max(len(x) for x in names)
    return text([x + [""] * (width - len(x)) for x in names]), np.array([len(x) for x in names])


def _transit_trips(rows: int, seed: int) -> Columns:
    rng = pools.rng_for(seed, "transit_trips", rows)
    people = pools.population(rows, seed)
    # The city's bus network: numbered lines, stops at road crossings, a fleet per line.
    numbers = rng.choice(np.arange(1, 600), size=_BUS_LINES, replace=False)
    bus_names = [f"{k}路" for k in numbers]
    stops = [a + b + "口" for a in _ROADS for b in _ROADS if a != b]
    bus_stops = [
        [stops[i] for i in rng.choice(len(stops), _STOPS_PER_LINE, replace=False)]
        for _ in range(_BUS_LINES)
    ]
    fleet = pools.plates(rng, _BUS_LINES * _FLEET).reshape(_BUS_LINES, _FLEET)
    line_names = text(list(_METRO) + bus_names)
    matrix, length = _stations([v.split() for v in _METRO.values()] + bus_stops)

    # Cards: 40% registered to a resident aged 10+, the rest anonymous; some ride a lot.
    n_cards = max(rows // 8, 1)
    card_no = cat("3301", zfill(pools.unique_ints(rng, 10**12, n_cards), 12))
    registered = rng.random(n_cards) < 0.4
    riders = people.aged(10, 90)
    holder = rng.choice(riders, size=n_cards, replace=n_cards > len(riders))
    activity = rng.gamma(0.7, size=n_cards)
    card = rng.choice(n_cards, size=rows, p=activity / activity.sum())

    bus = rng.random(rows) < 0.4
    line = np.where(
        bus, len(_METRO) + rng.integers(0, _BUS_LINES, rows), rng.integers(0, len(_METRO), rows)
    )
    board = (rng.random(rows) * length[line]).astype(np.int64)
    alight = (board + 1 + (rng.random(rows) * (length[line] - 1)).astype(np.int64)) % length[line]
    stops_apart = np.abs(alight - board)
    metro_fare = np.minimum(2 + np.searchsorted([2, 5, 9, 14, 20, 27], stops_apart, side="left"), 9)
    holder_age = pools.age_on(people.birth[holder[card]], pools.AS_OF)
    seniors_free = registered[card] & (holder_age >= 70)  # seniors ride buses free
    fare = np.where(bus, np.where(seniors_free, 0.0, 2.0), metro_fare.astype(float))
    plate = fleet[np.clip(line - len(_METRO), 0, None), rng.integers(0, _FLEET, rows)]

    # Tap-ins from October to December 2024, with morning and evening peaks.
    peak = rng.random(rows)
    secs = np.where(
        peak < 0.35,
        rng.normal(8 * 3600, 2200, rows),
        np.where(
            peak < 0.65, rng.normal(18 * 3600, 2900, rows), rng.uniform(6 * 3600, 23 * 3600, rows)
        ),
    )
    secs = np.clip(secs, 5.5 * 3600, 23.5 * 3600).astype(np.int64)
    when = np.datetime64("2024-10-01T00:00:00") + rng.integers(0, 92, rows) * 86400 + secs
    order = np.argsort(when, kind="stable")
    holder_id = np.where(registered[card], people.resident_id[holder[card]].astype(object), None)
    columns = {
        "card_no": card_no[card],
        "holder_id": holder_id,
        "board_station": matrix[line, board],
        "alight_station": matrix[line, alight],
        "line": line_names[line],
        "mode": np.where(bus, "公交", "地铁").astype(STR),
        "tap_in_time": when,
        "fare": fare,
        "bus_plate": np.where(bus, plate.astype(object), None),
    }
    return {k: v[order] for k, v in columns.items()}


_BUILDERS: dict[str, Callable[[int, int], Columns]] = {
    "enterprise_registry": _enterprise_registry,
    "tax_records": _tax_records,
    "social_insurance": _social_insurance,
    "medical_visits": _medical_visits,
    "transit_trips": _transit_trips,
}


def _column(values: np.ndarray, type_: ColumnType) -> object:
    """Convert a builder array to the pandas dtype documented for ``type_``."""
    if type_ == "string":
        return pd.array(np.asarray(values).astype(object), dtype="str")
    if type_ == "int":  # copies, so frames never share the cached, read-only arrays
        return np.array(values, dtype=np.int64)
    if type_ == "float":
        return np.array(values, dtype=np.float64)
    if type_ == "date":
        return values.astype("datetime64[D]").astype("datetime64[ns]")
    return values.astype("datetime64[s]").astype("datetime64[ns]")


def generate(spec_or_name: DatasetSpec | str, rows: int, seed: int = 0) -> pd.DataFrame:
    """Generate a synthetic dataset.

    Args:
        spec_or_name: a spec from :data:`DATASETS` or its name.
        rows: number of rows (>= 0).
        seed: world seed (>= 0); the same ``rows`` and ``seed`` give the same frame.

    Returns:
        A frame with exactly the spec's columns, in order, typed as the module docstring says.

    Raises:
        KeyError: if the name is unknown.
        ValueError: if ``rows`` or ``seed`` is negative.
    """
    spec = spec_or_name if isinstance(spec_or_name, DatasetSpec) else get_spec(spec_or_name)
    if rows < 0 or seed < 0:
        raise ValueError("rows and seed must not be negative")
    data = _BUILDERS[spec.name](max(rows, 1), seed)  # build one row and cut it for rows == 0
    frame = pd.DataFrame({c.name: _column(data[c.name], c.type) for c in spec.columns})
    return frame.iloc[:0] if rows == 0 else frame


HOLDOUT_SEED = 7919


def _write(frame: pd.DataFrame, path: Path) -> None:
    partial = path.with_name(
        path.name + ".partial"
    )  # write then rename: no reader sees half a file
    frame.to_parquet(partial, index=False)
    partial.replace(path)


def write_all(store: Path, rows: int = 100_000, seed: int = 0) -> list[dict[str, object]]:
    """Generate every dataset and write it as Parquet under ``store / "raw"``, with held-out
    records of the same population under ``store / "holdout"``.

    Args:
        store: root of the domain store; ``raw/`` is created inside it.
        rows: rows per dataset.
        seed: world seed.

    Returns:
        One dict per dataset with ``name``, ``title``, ``department``, ``level``, ``schema``,
        ``path`` (relative to ``store``, e.g. ``raw/medical_visits.parquet``) and ``rows``.
    """
    (store / "raw").mkdir(parents=True, exist_ok=True)
    (store / "holdout").mkdir(parents=True, exist_ok=True)
    written = []
    for spec in DATASETS:
        frame = generate(spec, rows, seed)
        path = f"raw/{spec.name}.parquet"
        _write(frame, store / path)
        # Held-out records of the same population (another seed: other people), never given to a
        # job: the membership-inference check compares a model's loss on them with its training rows.
        _write(
            generate(spec, max(rows // 5, 200), seed + HOLDOUT_SEED),
            store / "holdout" / f"{spec.name}.parquet",
        )
        written.append(
            {
                "name": spec.name,
                "title": spec.title,
                "department": spec.department,
                "level": spec.level,
                "schema": spec.schema(),
                "path": path,
                "rows": len(frame),
            }
        )
    return written
