"""Quality of the model-free PII detectors on a seeded, labeled synthetic corpus.

Positives come from the demo world (:mod:`hub.demo.pools`) plus local generators for bank cards,
e-mails, new-energy plates and addresses outside Hangzhou, written with the variants people use
(spaces and dashes, full-width digits, +86, lower-case x, legacy 15-digit IDs) both as bare
values and inside sentences. Negatives are ordinary sentences, dates, amounts, codes and
identifier look-alikes that fail their checksum. Run with ``-s`` to see the numbers.
"""

from __future__ import annotations

import random
import string
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest
from faker import Faker

from hub.demo import pools
from hub.demo.datasets import DATASETS, generate
from hub.masking.detectors import (
    ENTITIES,
    ColumnFinding,
    build_analyzer,
    detect_column,
    mask_text,
    scan_text,
    suggest_policy,
)
from hub.masking.normal import compact
from hub.masking.recognizers import luhn_valid, normalize, resident_id_valid, uscc_valid
from hub.validators import USCC_ALPHABET, resident_id_check_char

SEED = 20240601
N = 300  # examples per entity and per form (bare value, sentence)
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
CHECKSUM_ENTITIES = ("CN_RESIDENT_ID", "CN_BANK_CARD", "CN_USCC")


# --- positives ------------------------------------------------------------------------------------
def _groups(value: str, sizes: tuple[int, ...], sep: str) -> str:
    out, pos = [], 0
    for size in sizes:
        out.append(value[pos : pos + size])
        pos += size
    return sep.join(out + ([value[pos:]] if pos < len(value) else []))


def _resident_ids(rng: random.Random) -> list[str]:
    ids = pools.population(N, SEED).resident_id.tolist()
    out = []
    for i, v in enumerate(ids[:N]):
        kind = i % 7
        if kind == 1:  # an ID ending in a lower-case x
            while True:
                first17 = v[:14] + f"{rng.randrange(1000):03d}"
                if resident_id_check_char(first17) == "X":
                    v = (first17 + "x").lower()
                    break
        elif kind == 2:
            v = _groups(v, (6, 8), " ")
        elif kind == 3:
            v = _groups(v, (6, 8), "-")
        elif kind == 4:
            v = v.translate(FULL_WIDTH)
        elif kind == 5 and "1920" <= v[6:10] <= "1999":  # legacy 15 digits: no century
            v = v[:6] + v[8:14] + v[14:17]
        elif kind == 6:
            v = _groups(v, (6, 4, 4), " ")
        out.append(v)
    return out


def _mobiles(rng: random.Random) -> list[str]:
    raw = pools.mobiles(np.random.default_rng(SEED), N).tolist()
    forms = (
        lambda m: m,
        lambda m: "+86 " + _groups(m, (3, 4), "-"),
        lambda m: "+86" + m,
        lambda m: "0086" + m,
        lambda m: "86-" + m,
        lambda m: _groups(m, (3, 4), " "),
        lambda m: _groups(m, (3, 4), "-"),
        lambda m: m.translate(FULL_WIDTH),
    )
    return [forms[i % len(forms)](m) for i, m in enumerate(raw)]


def _luhn_complete(body: str) -> str:
    return next(body + d for d in string.digits if luhn_valid(body + d))


def _bank_cards(rng: random.Random) -> list[str]:
    bins = ("622202", "622848", "621700", "622588", "623668", "621226", "436742", "552599")
    out = []
    for i in range(N):
        length = (16, 19, 16, 17, 18, 19)[i % 6]
        body = rng.choice(bins) + "".join(rng.choices(string.digits, k=length - 7))
        card = _luhn_complete(body)
        form = i % 4
        if form == 1:
            card = _groups(card, (4, 4, 4, 4), " ")
        elif form == 2:
            card = _groups(card, (4, 4, 4, 4), "-")
        elif form == 3:
            card = card.translate(FULL_WIDTH)
        out.append(card)
    return out


def _usccs(rng: random.Random) -> list[str]:
    codes = pools.enterprises(N, SEED).uscc.tolist()
    return [c.lower() if i % 10 == 9 else c for i, c in enumerate(codes)]


_PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁苏浙赣鄂桂甘晋陕吉闽贵粤川琼"
_PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


def _plates(rng: random.Random) -> list[str]:
    nrng = np.random.default_rng(SEED)
    out = []
    for i in range(N):
        head = rng.choice(_PLATE_PROVINCES) + rng.choice(_PLATE_LETTERS[:12])
        kind = i % 4
        if kind == 2:  # new-energy car
            tail = rng.choice("DF") + rng.choice(_PLATE_LETTERS + string.digits)
            tail += "".join(rng.choices(string.digits, k=4))
        elif kind == 3:  # new-energy bus or truck
            tail = "".join(rng.choices(string.digits, k=5)) + rng.choice("DF")
        else:
            tail = pools.plates(nrng, 1, prefix="").tolist()[0]
        out.append(head + ("·" if i % 5 == 4 else "") + tail)
    return out


def _landlines(rng: random.Random) -> list[str]:
    areas = ("010", "021", "020", "0571", "0755", "0512", "0731", "0991")
    forms = (
        lambda a, n: f"{a}-{n}", lambda a, n: f"({a}){n}", lambda a, n: f"{a} {n[:-4]} {n[-4:]}",
        lambda a, n: f"+86 {a[1:]} {n[:-4]} {n[-4:]}", lambda a, n: f"86-{a[1:]}-{n}",
        lambda a, n: f"{a}-{n}转{rng.randrange(10, 9999)}", lambda a, n: f"{a}-{n}".translate(FULL_WIDTH),
    )  # fmt: skip
    out = []
    for i in range(N):
        area = rng.choice(areas)
        size = 8 if len(area) == 3 or i % 2 else 7
        local = str(rng.randrange(2, 10)) + "".join(rng.choices(string.digits, k=size - 1))
        out.append(forms[i % len(forms)](area, local))
    return out


def _emails(rng: random.Random) -> list[str]:
    words = ("zhang", "li.na", "wang_fang", "chen", "liu.yang", "hz.data", "service", "yanghui")
    domains = ("qq.com", "163.com", "126.com", "gmail.com", "example.cn", "zju.edu.cn", "sina.com")
    return [
        f"{rng.choice(words)}{rng.randrange(10_000) if i % 2 else ''}@{rng.choice(domains)}"
        for i in range(N)
    ]


_GIVEN = (
    "伟",
    "娜",
    "秀英",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
)
_COMPOUND = ("欧阳", "司马", "诸葛", "上官", "东方", "慕容", "司徒")


def _names(rng: random.Random) -> list[str]:
    faker = pools.faker_pools(SEED)
    names = faker.male_names.tolist() + faker.female_names.tolist()
    out = rng.sample(names, N - N // 10)
    return out + [rng.choice(_COMPOUND) + rng.choice(_GIVEN) for _ in range(N // 10)]


_ELSEWHERE = (
    ("江苏省", "南京市", "鼓楼区"), ("广东省", "深圳市", "南山区"), ("", "北京市", "朝阳区"),
    ("", "上海市", "浦东新区"), ("四川省", "成都市", "武侯区"), ("湖北省", "武汉市", "洪山区"),
)  # fmt: skip
_TOWNS = (
    ("安吉县", "递铺镇", "鹤鹿溪村"),
    ("桐庐县", "分水镇", "后岩村"),
    ("建德市", "梅城镇", "龙泉村"),
)


def _addresses(rng: random.Random) -> list[str]:
    registry = pools.enterprises(N, SEED).address.tolist()
    streets = pools.faker_pools(SEED).streets.tolist()
    faker = Faker("zh_CN")
    faker.seed_instance(SEED)
    out = []
    for i, a in enumerate(registry[:N]):
        kind = i % 6
        if kind == 1:
            a = a.removeprefix("浙江省")
        elif kind == 2:
            a = a.removeprefix("浙江省杭州市")
        elif kind == 3:
            prov, city, dist = rng.choice(_ELSEWHERE)
            a = f"{prov}{city}{dist}{rng.choice(streets)}{rng.randrange(1, 300)}号"
        elif kind == 4:
            county, town, village = rng.choice(_TOWNS)
            a = f"浙江省杭州市{county}{town}{village}{rng.randrange(1, 120)}号"
        elif (
            kind == 5
        ):  # Faker's made-up addresses, without the postcode: 河南省佛山市大东杭州路d座
            a = faker.address().rsplit(" ", 1)[0]
        out.append(a)
    return out


_SENTENCES = {
    "CN_RESIDENT_ID": (
        "患者身份证号{v}，已核实医保身份。", "公民身份号码：{v}", "请核对证件号码{v}是否有效。",
        "持卡人身份证号码为{v}，请妥善保管。", "身份证{v}已登记。",
    ),
    "CN_MOBILE": (
        "联系电话{v}，请保持畅通。", "随访电话：{v}。", "如有疑问请拨打{v}咨询。",
        "手机号{v}已验证", "复诊，较前好转，随访电话{v}。",
    ),
    "CN_LANDLINE": (
        "办公电话{v}，工作日可拨打。", "座机：{v}", "如需帮助请致电{v}。", "传真{v}，请注明事由。",
    ),
    "CN_BANK_CARD": (
        "工资发放至银行卡{v}。", "收款账号：{v}", "请将款项转入卡号{v}，户名见附件。",
        "信用卡{v}已冻结。",
    ),
    "CN_USCC": (
        "统一社会信用代码：{v}", "纳税人识别号{v}的企业本月未申报。", "该企业信用代码为{v}。",
    ),
    "CN_LICENSE_PLATE": ("车牌号{v}的车辆违停。", "号牌{v}，核载45人。", "今日{v}途经文三路。"),
    "EMAIL_ADDRESS": ("邮箱：{v}", "请发送材料至{v}，谢谢。", "电子邮件{v}已退信。"),
    "CN_NAME": (
        "患者{v}于昨日就诊。", "患者{v}，男，45岁，主诉头痛。", "法定代表人：{v}",
        "联系人{v}，电话见附件。", "{v}先生来电咨询社保缴费。", "{v}女士已办理退费。",
        "经办人{v}签字确认。", "申请人{v}提交了材料。", "姓名：{v}；性别：女", "参会人员：{v}、{w}。",
        "{v}、{w}参加了培训。", "{v}于昨日就诊。", "今天{v}来院复查。", "感谢{v}的帮助。",
        "我和{v}是同事。", "请{v}尽快回电。", "{v}的家属已签字。", "据{v}介绍，情况属实。",
    ),
    "CN_ADDRESS": (
        "住址：{v}", "家住{v}，步行可达。", "该企业住所为{v}。", "患者现住{v}，近期无外出。",
        "请将材料寄往{v}。",
    ),
}  # fmt: skip
_MIXED = "患者{CN_NAME}，电话{CN_MOBILE}，身份证号{CN_RESIDENT_ID}，住址{CN_ADDRESS}。"


@dataclass
class Example:
    """A text and its labeled spans ``(entity, start, end)``."""

    text: str
    spans: list[tuple[str, int, int]] = field(default_factory=list)
    form: str = "value"


def _fill(template: str, slots: dict[str, tuple[str, str]]) -> Example:
    """Fill ``{key}`` slots with (entity, value) pairs, recording where each value lands."""
    ex = Example("", form="sentence")
    for part in string.Formatter().parse(template):
        literal, key = part[0], part[1]
        ex.text += literal
        if key is not None:
            entity, value = slots[key]
            ex.spans.append((entity, len(ex.text), len(ex.text) + len(value)))
            ex.text += value
    return ex


@pytest.fixture(scope="module")
def values() -> dict[str, list[str]]:
    rng = random.Random(SEED)
    makers = {
        "CN_RESIDENT_ID": _resident_ids,
        "CN_MOBILE": _mobiles,
        "CN_LANDLINE": _landlines,
        "CN_BANK_CARD": _bank_cards,
        "CN_USCC": _usccs,
        "CN_LICENSE_PLATE": _plates,
        "EMAIL_ADDRESS": _emails,
        "CN_NAME": _names,
        "CN_ADDRESS": _addresses,
    }
    return {entity: make(rng) for entity, make in makers.items()}


@pytest.fixture(scope="module")
def positives(values: dict[str, list[str]]) -> list[Example]:
    rng = random.Random(SEED + 1)
    out = [Example(v, [(e, 0, len(v))]) for e, vs in values.items() for v in vs]
    for entity, templates in _SENTENCES.items():
        for i, v in enumerate(values[entity]):
            w = rng.choice(values[entity])
            out.append(_fill(templates[i % len(templates)], {"v": (entity, v), "w": (entity, w)}))
    for _ in range(N // 3):
        slots = {e: (e, rng.choice(values[e])) for e in ENTITIES}
        out.append(_fill(_MIXED, slots))
    return out + _demo_notes()


def _demo_notes() -> list[Example]:
    """Medical-record notes of the demo world, labeled with the row's own name, phone and ID."""
    frame = generate("medical_visits", 1500, seed=SEED)
    out = []
    for note, name, mobile, rid in frame[["notes", "patient_name", "mobile", "patient_id"]].values:
        ex = Example(note, form="note")
        phones = (mobile, _groups(mobile, (3, 4), "-"), _groups(mobile, (3, 4), " "))
        for entity, options in (
            ("CN_NAME", (name,)),
            ("CN_MOBILE", phones),
            ("CN_RESIDENT_ID", (rid,)),
        ):
            for value in options:
                if (k := note.find(value)) >= 0:
                    ex.spans.append((entity, k, k + len(value)))
        out.append(ex)
    return out


# --- negatives ------------------------------------------------------------------------------------
_ORDINARY = (
    "主诉咽痛、流涕三天。嘱注意休息、多饮水。", "原发性高血压，头晕、头胀3个月余。予药物治疗。",
    "复诊，上腹部隐痛，较前好转。门诊随访。", "完善血常规等相关检查，一周后复诊。",
    "本周末全市气温回升，白天最高气温25度。", "请于工作日上午九点至下午五点前来办理。",
    "企业所得税按季度预缴，年度终了后汇算清缴。", "平安健康是每个家庭的心愿。",
    "会议决定成立专项工作组，负责数据安全管理。", "地铁1号线湘湖站至文泽路站运营时间调整。",
    "乘坐32路公交车可到达浙江大学医学院附属第一医院。", "杭州市西湖区人民政府发布通知。",
    "金华火腿和宁波汤圆是浙江的特产。", "高峰时段请错峰出行。", "白云、蓝天和阳光。",
    "周一至周五正常上班，周六、周日休息。", "黄金价格连续三天上涨。", "许可证有效期五年。",
    "方便面、矿泉水等物资已送达。", "成都、武汉、南京三地联合发布公告。", "车辆年检请提前预约。",
    "杭州华鑫网络科技有限公司", "浙江省人民医院", "杭州市余杭区第一人民医院", "企业职工基本养老保险",
    "沿着中山路一直走到底就是。", "该小区共有12幢住宅楼。", "全年累计缴费12个月。",
    "林业部门开展春季植树活动。", "常规体检未见异常。", "文化广场今晚有演出。",
)  # fmt: skip


def _bad_check(rng: random.Random, first17: str, good: str, alphabet: str) -> str:
    return first17 + rng.choice([c for c in alphabet if c != good])


def _negatives(values: dict[str, list[str]]) -> list[tuple[str, str]]:
    """``(kind, text)`` pairs that contain no personal data."""
    rng = random.Random(SEED + 2)
    out = [("ordinary", s) for s in _ORDINARY]
    for rid in values["CN_RESIDENT_ID"]:
        v = normalize(rid).replace(" ", "").replace("-", "").upper()
        if len(v) == 18:
            out.append(("bad_id", _bad_check(rng, v[:17], v[17], "0123456789X")))
    for card in values["CN_BANK_CARD"]:
        v = normalize(card).replace(" ", "").replace("-", "")
        out.append(("bad_card", _bad_check(rng, v[:-1], v[-1], string.digits)))
    for code in values["CN_USCC"]:
        v = code.upper()
        out.append(("bad_uscc", _bad_check(rng, v[:17], v[17], USCC_ALPHABET)))
    for text in _demo_texts():
        out.append(("demo_text", text))
    for _ in range(N):
        n = rng.choice((12, 15, 16, 17, 18, 19, 20))
        out.append(("digits", "".join(rng.choices(string.digits, k=n))))
        y, m, d = rng.randrange(1950, 2025), rng.randrange(1, 13), rng.randrange(1, 29)
        out.append(
            ("date", rng.choice((f"{y}-{m:02d}-{d:02d}", f"{y}年{m}月{d}日", f"{y}{m:02d}{d:02d}")))
        )
        amount = rng.randrange(100, 10**7) / 100
        out.append(
            (
                "amount",
                rng.choice((f"人民币{amount:,.2f}元", f"¥{amount:.2f}", f"合计{amount}万元")),
            )
        )
        out.append(("code", f"MZ{y}{m:02d}{d:02d}{rng.randrange(10**5):05d}"))
        out.append(
            ("code", f"DS-{rng.choice(('0571', '010', '021'))}-{y}-{rng.randrange(999):03d}")
        )
    # A checksum-failing value is not detected as anything, so keep only those failing every test.
    return [
        (kind, text)
        for kind, text in out
        if kind not in ("bad_id", "bad_card", "bad_uscc", "digits") or not _passes_any(text)
    ]


def _demo_texts() -> list[str]:
    """Non-personal text: demo dataset values in sentences, Faker paragraphs, jobs, companies."""
    registry = generate("enterprise_registry", 300, seed=SEED)
    visits = generate("medical_visits", 300, seed=SEED)
    trips = generate("transit_trips", 600, seed=SEED)
    stations = sorted(set(trips.board_station) | set(trips.alight_station))
    faker = Faker("zh_CN")
    faker.seed_instance(SEED + 4)
    return (
        [
            f"{c}成立于{d:%Y年%m月}，所属行业为{i}。"
            for c, d, i in registry[["company_name", "established_date", "industry"]].values
        ]
        + [
            f"在{h}{d}就诊，诊断为{x}。"
            for h, d, x in visits[["hospital", "department", "diagnosis_name"]].values
        ]
        + [f"乘客在{a}站上车，{b}站下车。" for a, b in zip(stations, stations[::-1], strict=True)]
        + [n for n in visits.notes if not any(c.isdigit() for c in n) and "患者" not in n]
        + [faker.paragraph(nb_sentences=5) for _ in range(N)]
        + [faker.job() for _ in range(N)]
        + [faker.company() for _ in range(N)]
    )


def _passes_any(text: str) -> bool:
    v = text.upper()
    return (
        (len(v) == 18 and resident_id_valid(v))
        or (len(v) == 15 and v.isdigit() and resident_id_valid(v))
        or (16 <= len(v) <= 19 and v.isdigit() and luhn_valid(v))
        or (len(v) == 18 and all(c in USCC_ALPHABET for c in v) and uscc_valid(v))
        or (len(v) == 11 and v[0] == "1" and v[1] in "3456789")
    )


# --- scoring --------------------------------------------------------------------------------------
@dataclass
class Scores:
    """Per-entity counts over the labeled corpus."""

    labeled: Counter = field(default_factory=Counter)
    found: Counter = field(default_factory=Counter)
    exact: Counter = field(default_factory=Counter)
    findings: Counter = field(default_factory=Counter)
    correct: Counter = field(default_factory=Counter)
    negative_hits: Counter = field(default_factory=Counter)
    negative_kinds: dict = field(default_factory=lambda: defaultdict(Counter))
    misses: dict = field(default_factory=lambda: defaultdict(list))

    def recall(self, entity: str, form: str | None = None) -> float:
        key = (entity, form) if form else entity
        return self.found[key] / max(self.labeled[key], 1)

    def precision(self, entity: str) -> float:
        return self.correct[entity] / max(self.findings[entity], 1)


def _covers(f_start: int, f_end: int, start: int, end: int) -> bool:
    """A finding counts when it covers at least 90% of the labeled span."""
    return max(0, min(f_end, end) - max(f_start, start)) >= 0.9 * (end - start)


@pytest.fixture(scope="module")
def scores(values: dict[str, list[str]], positives: list[Example]) -> Scores:
    sc = Scores()
    for ex in positives:
        findings = scan_text(ex.text)
        for entity, start, end in ex.spans:
            for key in (entity, (entity, ex.form)):
                sc.labeled[key] += 1
            hit = [
                f for f in findings if f.entity == entity and _covers(f.start, f.end, start, end)
            ]
            if hit:
                for key in (entity, (entity, ex.form)):
                    sc.found[key] += 1
                sc.exact[entity] += any(f.start == start and f.end == end for f in hit)
            else:
                sc.misses[entity].append(ex.text)
        for f in findings:
            sc.findings[f.entity] += 1
            sc.correct[f.entity] += any(
                e == f.entity and max(0, min(f.end, en) - max(f.start, st)) > 0
                for e, st, en in ex.spans
            )
    negatives = _negatives(values)
    sc.labeled["negatives"] = len(negatives)
    for kind, text in negatives:
        for f in scan_text(text):
            sc.findings[f.entity] += 1
            sc.negative_hits[f.entity] += 1
            sc.negative_kinds[f.entity][kind] += 1
    _report(sc)
    # Bare place names are indistinguishable from names without context (白洋, 景芳): not counted.
    trips = generate("transit_trips", 600, seed=SEED)
    stations = sorted(set(trips.board_station) | set(trips.alight_station))
    flagged = [s for s in stations if scan_text(s)]
    print(f"bare station names flagged (informational): {len(flagged)}/{len(stations)} {flagged}")
    return sc


def _report(sc: Scores) -> None:
    print(
        f"\n{'entity':18} {'spans':>5} {'recall':>7} {'value':>7} {'in text':>7} {'notes':>7}"
        f" {'exact':>7} {'precis.':>7} {'neg FP':>6}"
    )
    for e in ENTITIES:
        notes = f"{sc.recall(e, 'note'):7.3f}" if sc.labeled[(e, "note")] else f"{'-':>7}"
        print(
            f"{e:18} {sc.labeled[e]:5d} {sc.recall(e):7.3f} {sc.recall(e, 'value'):7.3f}"
            f" {sc.recall(e, 'sentence'):7.3f} {notes} {sc.exact[e] / max(sc.labeled[e], 1):7.3f}"
            f" {sc.precision(e):7.3f} {sc.negative_hits[e]:6d}"
        )
    print(
        f"labeled spans: {sum(sc.labeled[e] for e in ENTITIES)},"
        f" negatives: {sc.labeled['negatives']}"
    )
    for e, kinds in sc.negative_kinds.items():
        print(f"false positives on negatives, {e}: {dict(kinds)}")
    for e, texts in sc.misses.items():
        print(f"missed {e} ({len(texts)}), e.g. {texts[:3]}")


# --- tests ----------------------------------------------------------------------------------------
def test_when_text_is_full_width_then_normalize_keeps_length_and_maps_to_ascii() -> None:
    text = "电话：＋８６　１３８－１２３４－５６７８，ＩＤ３３０１０６"
    out = normalize(text)
    assert len(out) == len(text)
    assert out == "电话：+86 138-1234-5678，ID330106"


def test_when_analyzer_is_built_then_it_holds_only_our_recognizers_and_is_cached() -> None:
    analyzer = build_analyzer()
    assert analyzer is build_analyzer()
    assert sorted(analyzer.get_supported_entities("zh")) == sorted(ENTITIES)
    assert analyzer.supported_languages == ["zh"]


@pytest.mark.parametrize("entity", CHECKSUM_ENTITIES)
def test_when_checksum_entities_are_scanned_then_recall_is_at_least_95_percent(
    scores: Scores, entity: str
) -> None:
    assert scores.recall(entity) >= 0.95, scores.misses[entity][:5]


@pytest.mark.parametrize(
    "entity", ["CN_MOBILE", "CN_LANDLINE", "CN_LICENSE_PLATE", "EMAIL_ADDRESS"]
)
def test_when_pattern_entities_are_scanned_then_recall_is_at_least_95_percent(
    scores: Scores, entity: str
) -> None:
    assert scores.recall(entity) >= 0.95, scores.misses[entity][:5]


@pytest.mark.parametrize("entity", ["CN_NAME", "CN_ADDRESS"])
def test_when_names_and_addresses_are_in_context_then_recall_is_at_least_85_percent(
    scores: Scores, entity: str
) -> None:
    assert scores.recall(entity, "sentence") >= 0.85, scores.misses[entity][:5]
    assert scores.recall(entity, "value") >= 0.85, scores.misses[entity][:5]


def test_when_values_fail_their_checksum_then_nothing_is_detected(scores: Scores) -> None:
    for entity in CHECKSUM_ENTITIES:
        kinds = scores.negative_kinds[entity]
        assert not (kinds["bad_id"] or kinds["bad_card"] or kinds["bad_uscc"] or kinds["digits"])


def test_when_corpus_is_scanned_then_precision_is_reasonable(scores: Scores) -> None:
    for entity in ENTITIES:
        floor = 0.9 if entity in ("CN_NAME", "CN_ADDRESS") else 0.97
        assert scores.precision(entity) >= floor, (entity, scores.negative_kinds[entity])
    assert sum(scores.negative_hits.values()) <= 0.01 * scores.labeled["negatives"]


def test_when_text_is_masked_then_no_detected_value_remains(positives: list[Example]) -> None:
    for ex in positives[:: max(len(positives) // 400, 1)]:
        found = scan_text(ex.text)
        masked = mask_text(ex.text)
        for f in found:
            assert f.text not in masked
            assert f"<{f.entity}>" in masked
        assert scan_text(masked) == []


def test_when_a_context_word_is_near_then_the_score_is_raised() -> None:
    bare, near = scan_text("330106800101123"), scan_text("身份证号330106800101123")
    assert [f.entity for f in bare] == [f.entity for f in near] == ["CN_RESIDENT_ID"]
    assert near[0].score > bare[0].score
    assert near[0].text == "330106800101123" and near[0].start == 4


def test_when_text_has_a_name_in_a_sentence_then_mask_text_replaces_it() -> None:
    masked = mask_text("患者张伟于昨日就诊，电话+86 138-1234-5678。")
    assert masked == "患者<CN_NAME>于昨日就诊，电话<CN_MOBILE>。"
    assert mask_text("") == ""
    notes = pd.Series(["联系人李娜，手机138 1234 5678", None, "无"])
    assert notes.map(mask_text).tolist()[0] == "联系人<CN_NAME>，手机<CN_MOBILE>"
    assert notes.map(mask_text).isna().tolist() == [False, True, False]


@pytest.mark.parametrize("entity", ENTITIES)
def test_when_column_holds_an_entity_then_detect_column_names_it(
    values: dict[str, list[str]], entity: str
) -> None:
    found = detect_column(pd.Series(values[entity] + [None] * 20))
    assert isinstance(found, ColumnFinding)
    assert found.entity == entity
    print(f"\ndetect_column {entity}: ratio {found.ratio}")
    assert found.ratio >= 0.9


def test_when_mobiles_are_stored_as_numbers_then_the_column_is_detected(
    values: dict[str, list[str]],
) -> None:
    numbers = pd.Series([float(m) for m in values["CN_MOBILE"] if m.isdigit()] + [np.nan] * 5)
    assert detect_column(numbers) == ColumnFinding("CN_MOBILE", 1.0, len(numbers) - 5)


@pytest.mark.parametrize("entity", ["CN_RESIDENT_ID", "CN_MOBILE", "CN_NAME"])
def test_when_column_has_ten_percent_junk_then_it_is_still_detected(
    values: dict[str, list[str]], entity: str
) -> None:
    good = values[entity][:270]
    junk = ["不详", "无", "0", "N/A", "待补充", "123", "——", "见附件", "unknown", "-"] * 3
    found = detect_column(pd.Series(good + junk).sample(frac=1, random_state=1))
    assert found is not None and found.entity == entity
    assert 0.8 <= found.ratio <= 0.92


def test_when_ids_fail_their_checksum_then_the_column_is_not_detected(
    values: dict[str, list[str]],
) -> None:
    rng = random.Random(SEED + 3)
    ids = pools.population(N, SEED).resident_id.tolist()
    bad = [_bad_check(rng, v[:17], v[17], "0123456789X") for v in ids]
    found = detect_column(pd.Series(bad))
    assert found is None or found.entity != "CN_RESIDENT_ID"


@pytest.mark.parametrize(
    "column",
    [
        pd.Series(["原发性高血压", "肺炎", "2型糖尿病", "胃炎", "偏头痛"] * 40),
        pd.Series(np.round(np.random.default_rng(0).lognormal(5, 1, 500), 2)),
        pd.Series(pd.date_range("2024-01-01", periods=300)),
        pd.Series(["上城区", "西湖区", "钱塘区", "萧山区", "余杭区"] * 60),
        pd.Series(np.arange(10**17, 10**17 + 300, dtype=np.float64)),
        pd.Series([None, None], dtype=object),
        pd.Series([], dtype="str"),
    ],
    ids=["diagnoses", "amounts", "dates", "districts", "big-floats", "all-null", "empty"],
)
def test_when_column_is_not_pii_then_detect_column_returns_none(column: pd.Series) -> None:
    assert detect_column(column) is None


_PII_ENTITY = {
    "resident_id": "CN_RESIDENT_ID",
    "mobile": "CN_MOBILE",
    "name": "CN_NAME",
    "address": "CN_ADDRESS",
    "uscc": "CN_USCC",
    "plate": "CN_LICENSE_PLATE",
}


@pytest.mark.parametrize("spec", DATASETS, ids=[s.name for s in DATASETS])
def test_when_demo_datasets_are_profiled_then_detected_columns_match_their_spec(spec) -> None:
    frame = generate(spec, 2000, seed=SEED)
    for col in spec.columns:
        found = detect_column(frame[col.name])
        expected = _PII_ENTITY.get(col.pii or "")
        assert (found.entity if found else None) == expected, (col.name, found)


def test_when_policy_is_suggested_then_every_entity_maps_to_a_known_operator() -> None:
    operators = {
        "drop",
        "mask",
        "pseudonym",
        "generalize",
        "surrogate",
        "date_shift",
        "noise",
        "round",
    }
    for entity in ENTITIES:
        name, params = suggest_policy(entity)
        assert name in operators and isinstance(params, dict)
    assert suggest_policy("CN_MOBILE") == ("mask", {"keep_prefix": 3, "keep_suffix": 4})
    assert suggest_policy("CN_NAME") == ("mask", {"keep_prefix": 1, "keep_suffix": 0})
    suggest_policy("CN_NAME")[1]["keep_prefix"] = 9
    assert suggest_policy("CN_NAME")[1] == {"keep_prefix": 1, "keep_suffix": 0}
    with pytest.raises(KeyError):
        suggest_policy("US_SSN")


@pytest.mark.parametrize(
    "text",
    ["联系电话：87654321", "座机 6857 6507 转 23", "办公室电话8765-4321，请联系", "家里电话是 5678123",
     "回电 ８７６５ ４３２１。", "请回拨85201314", "TEL: 8765 4321", "传真号码：2345-6789"],
)  # fmt: skip
def test_when_a_local_number_follows_a_phone_word_then_it_is_masked_in_both_paths(text) -> None:
    from hub.masking.scan import mask

    for masked in (mask(text), mask_text(text)):
        assert "<CN_LANDLINE>" in masked
        assert not any(run in compact(masked) for run in ("8765", "6857", "5678", "8520", "2345"))


@pytest.mark.parametrize(
    "text", ["订单号87654321已发货", "金额 87654321 元", "电话费 87654321 元", "编号 2345 6789"]
)
def test_when_an_eight_digit_number_follows_no_phone_word_then_it_stays(text) -> None:
    from hub.masking.scan import mask

    assert mask(text) == text and mask_text(text) == text


def test_when_a_column_is_headed_as_a_phone_then_its_bare_local_numbers_are_masked() -> None:
    from hub.masking.scan import scrub_text

    cells = ["8765 4321", "6857-6507", "5678123", "无", None]
    phone = scrub_text(pd.Series(cells, name="固定电话")).tolist()
    assert phone[:3] == ["<CN_LANDLINE>"] * 3 and phone[3] == "无" and pd.isna(phone[4])
    assert scrub_text(pd.Series(cells, name="订单编号")).tolist()[:3] == cells[:3]  # no context
