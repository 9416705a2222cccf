"""Adversarial corpus: data as departments really export it, with the truth of what it holds.

Department systems export Chinese headers (姓名, 证件号码, 联系电话 …) and identifiers in the
shapes their clerks typed: spaced, dashed, dotted or full-width IDs, a lower-case x, 15-digit
legacy IDs, +86 / 0086 / (+86) mobiles, grouped bank cards, plates with ``·``, ``-`` or a space,
e-mails on real mail domains, names with rare characters and compound surnames — and a remarks
column where all of these sit inside sentences, the row's own and other people's (a spouse's
mobile, an emergency contact's name).

:func:`export` builds such a table from a seed (Faker ``zh_CN`` plus our own shape transforms)
and returns, with it, every raw value it planted: :class:`Planted` (row, column, entity, shape,
value). The masking tests and the benchmark hold the sample path to zero planted values served
and report recall per entity × shape.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from faker import Faker

from sdk.identifiers import luhn_valid, resident_id_check_char, uscc_check_char

HEADERS = {
    "name": "姓名",
    "resident_id": "证件号码",
    "mobile": "联系电话",
    "bank_card": "银行账号",
    "plate": "车牌号",
    "email": "电子邮箱",
    "address": "住址",
    "uscc": "统一社会信用代码",
    "landline": "固定电话",
    "notes": "备注",
    "log": "沟通记录",
}
ENTITY = {
    "name": "CN_NAME",
    "resident_id": "CN_RESIDENT_ID",
    "mobile": "CN_MOBILE",
    "bank_card": "CN_BANK_CARD",
    "plate": "CN_LICENSE_PLATE",
    "email": "EMAIL_ADDRESS",
    "address": "CN_ADDRESS",
    "uscc": "CN_USCC",
    "landline": "CN_LANDLINE",
}
FULL = str.maketrans(
    string.digits + string.ascii_letters + "@.-+",
    "".join(chr(ord(c) + 0xFEE0) for c in string.digits + string.ascii_letters + "@.-+"),
)
ZH_DIGITS = str.maketrans("0123456789", "〇一二三四五六七八九")
ZERO_WIDTH = "\u200b"
COMPOUND = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "司徒")
RARE_GIVEN = ("㛃", "䶮", "堃", "昇", "喆", "犇", "淼", "垚", "赟", "玥", "珺", "琰", "曌", "翀")
MAIL_DOMAINS = ("qq.com", "163.com", "126.com", "sina.com", "gmail.com", "outlook.com",
                "foxmail.com", "139.com", "aliyun.com", "hotmail.com", "zju.edu.cn")  # fmt: skip
PROVINCE_ABBR = "京津沪渝冀豫云辽黑湘皖鲁苏浙赣鄂桂甘晋陕吉闽贵粤川琼"
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # real plates never use I or O
CARD_BINS = ("622202", "622848", "621700", "622588", "623668", "621226", "436742", "625965")


@dataclass(frozen=True)
class Planted:
    """One raw value written into the table: where, what, in which shape."""

    row: int
    column: str
    entity: str
    shape: str
    value: str


def _groups(value: str, sizes: tuple[int, ...], sep: str) -> str:
    out, pos = [], 0
    for size in sizes:
        out.append(value[pos : pos + size])
        pos += size
    return sep.join(out + ([value[pos:]] if pos < len(value) else []))


def _every(value: str, sep: str) -> str:
    return sep.join(value)


# --- canonical values -----------------------------------------------------------------------------
def _resident_id(faker: Faker, rng: random.Random) -> str:
    body = faker.ssn()[:17]
    return body + resident_id_check_char(body)


def _mobile(rng: random.Random) -> str:
    head = rng.choice(("130", "131", "135", "136", "138", "139", "150", "151", "158", "159",
                       "166", "177", "180", "186", "188", "189", "199"))  # fmt: skip
    return head + "".join(rng.choices(string.digits, k=8))


def _bank_card(rng: random.Random) -> str:
    length = rng.choice((16, 16, 19, 19, 17, 18))
    body = rng.choice(CARD_BINS) + "".join(rng.choices(string.digits, k=length - 7))
    return next(body + d for d in string.digits if luhn_valid(body + d))


def _plate(rng: random.Random) -> str:
    head = rng.choice(PROVINCE_ABBR) + rng.choice(PLATE_LETTERS[:14])
    if rng.random() < 0.25:  # new-energy
        return head + rng.choice("DF") + "".join(rng.choices(string.digits, k=5))
    letters = rng.randrange(0, 3)
    tail = rng.choices(PLATE_LETTERS, k=letters) + rng.choices(string.digits, k=5 - letters)
    rng.shuffle(tail)
    return head + "".join(tail)


def _uscc(rng: random.Random) -> str:
    body = (
        "91"
        + rng.choice(("330106", "110105", "440305", "510107"))
        + "".join(rng.choices("0123456789ABCDEFGHJKLMNPQRTUWXY", k=9))
    )
    return body + uscc_check_char(body)


AREA_CODES = ("010", "021", "022", "023", "020", "024", "025", "027", "028", "029", "0571",
              "0574", "0755", "0512", "0731", "0371", "0531", "0591", "0851", "0991", "0898")  # fmt: skip


def _landline(rng: random.Random) -> str:
    """Area code and local number, digits only (three-digit areas have eight-digit numbers)."""
    area = rng.choice(AREA_CODES)
    size = 8 if len(area) == 3 or rng.random() < 0.6 else 7
    return area + str(rng.randrange(2, 10)) + "".join(rng.choices(string.digits, k=size - 1))


def _area(v: str) -> tuple[str, str]:
    cut = 3 if v[1] in "12" else 4
    return v[:cut], v[cut:]


def _local(v: str, sep: str) -> str:
    local = _area(v)[1]
    return local[:-4] + sep + local[-4:]


def _email(faker: Faker, rng: random.Random) -> str:
    user = faker.user_name() + rng.choice(("", str(rng.randrange(10, 9999)), ".cn", "_hz"))
    return f"{user}@{rng.choice(MAIL_DOMAINS)}"


def _name(faker: Faker, rng: random.Random) -> tuple[str, str]:
    r = rng.random()
    if r < 0.2:
        return "compound", rng.choice(COMPOUND) + faker.first_name()
    if r < 0.4:
        given = rng.choice(RARE_GIVEN) + ("" if rng.random() < 0.5 else faker.first_name()[-1])
        return "rare_char", faker.last_name() + given
    return "common", faker.name()


MINORITY = ("阿卜杜", "热合曼", "买买提", "艾力", "古丽娜尔", "吐尔逊", "努尔", "阿依古丽",
            "迪丽拜尔", "艾尼瓦尔", "阿不都拉", "热依拉", "帕提曼", "吾斯曼", "扎西", "卓玛",
            "次仁", "巴特尔", "其其格", "哈斯", "达吾提", "肉孜", "玉素甫", "库尔班")  # fmt: skip
RARE_SURNAME = ("佟", "邬", "卞", "仇", "栾", "隋", "刁", "巫", "敖", "郁", "亓", "昝", "鞠")
TITLES = ("先生", "女士", "经理", "老师", "主任", "师傅", "医生", "律师")


def _other_name(faker: Faker, rng: random.Random) -> tuple[str, str]:
    """Someone other than the record's subject, in every kind a remark names people: common,
    compound surname, rare character, rare surname, transliterated with ``·``."""
    r = rng.random()
    if r < 0.2:
        return "minority", "·".join(rng.sample(MINORITY, 2))
    if r < 0.3:
        return "rare_surname", rng.choice(RARE_SURNAME) + faker.first_name()
    return _name(faker, rng)


def _address(faker: Faker, rng: random.Random) -> str:
    province = rng.choice(("浙江省", "江苏省", "广东省", "四川省", "湖北省", "北京市", "上海市"))
    city = "" if province.endswith("市") and len(province) == 3 else faker.city()
    district = faker.district() + rng.choice(("区", "县"))
    street = faker.street_name()
    number = f"{rng.randrange(1, 999)}号"
    room = rng.choice(("", f"{rng.randrange(1, 30)}幢{rng.randrange(101, 2999)}室",
                       f"{rng.randrange(1, 9)}单元{rng.randrange(101, 1999)}"))  # fmt: skip
    return province + city + district + street + number + room


# --- shapes ---------------------------------------------------------------------------------------
Shape = Callable[[str, random.Random], str]
SHAPES: dict[str, dict[str, Shape]] = {
    "resident_id": {
        "plain": lambda v, r: v,
        "lower_x": lambda v, r: v.lower(),
        # 15-digit IDs were issued before 1999: only people born in the 1900s have one
        "legacy15": lambda v, r: v[:6] + v[8:17] if "1920" <= v[6:10] <= "1999" else v,
        "spaced_6_8_4": lambda v, r: _groups(v, (6, 8), " "),
        "dashed_6_4_4_4": lambda v, r: _groups(v, (6, 4, 4), "-"),
        "dotted": lambda v, r: _groups(v, (6, 4, 4), "."),
        "middot": lambda v, r: _groups(v, (6, 8), "·"),
        "fullwidth": lambda v, r: v.translate(FULL),
        "fullwidth_spaced": lambda v, r: _groups(v.translate(FULL), (6, 8), "\u3000"),
        "zero_width": lambda v, r: _groups(v, (3, 5, 5), ZERO_WIDTH),
        "every_char": lambda v, r: _every(v, " "),
    },
    "mobile": {
        "plain": lambda v, r: v,
        "plus86": lambda v, r: "+86" + v,
        "plus86_spaced": lambda v, r: "+86 " + _groups(v, (3, 4), " "),
        "0086_dashed": lambda v, r: "0086-" + _groups(v, (3, 4), "-"),
        "paren86": lambda v, r: "(+86)" + v,
        "dashed_3_4_4": lambda v, r: _groups(v, (3, 4), "-"),
        "spaced_3_4_4": lambda v, r: _groups(v, (3, 4), " "),
        "dotted": lambda v, r: _groups(v, (3, 4), "."),
        "fullwidth": lambda v, r: v.translate(FULL),
        "fullwidth_plus86": lambda v, r: ("+86" + v).translate(FULL),
        "chinese_numerals": lambda v, r: v.translate(ZH_DIGITS),
        "zero_width": lambda v, r: _groups(v, (3, 4), ZERO_WIDTH),
    },
    "bank_card": {
        "plain": lambda v, r: v,
        "spaced_4s": lambda v, r: _groups(v, (4, 4, 4, 4), " "),
        "dashed_4s": lambda v, r: _groups(v, (4, 4, 4, 4), "-"),
        "double_spaced": lambda v, r: _groups(v, (4, 4, 4, 4), "  "),
        "fullwidth": lambda v, r: v.translate(FULL),
        "dotted": lambda v, r: _groups(v, (6, 6), "."),
    },
    "plate": {
        "plain": lambda v, r: v,
        "middot": lambda v, r: v[:2] + "·" + v[2:],
        "dash": lambda v, r: v[:2] + "-" + v[2:],
        "space": lambda v, r: v[:2] + " " + v[2:],
        "lower": lambda v, r: v.lower(),
        "fullwidth": lambda v, r: v.translate(FULL),
        "bullet": lambda v, r: v[:2] + "•" + v[2:],
        "space_after_province": lambda v, r: v[0] + " " + v[1:],
    },
    "email": {
        "plain": lambda v, r: v,
        "upper": lambda v, r: v.upper(),
        "fullwidth_at": lambda v, r: v.replace("@", "＠"),
        "fullwidth": lambda v, r: v.translate(FULL),
        # spelt to dodge harvesters
        "bracket_at": lambda v, r: v.replace("@", "[at]"),
        "paren_at_dot_word": lambda v, r: _spell(v, "(at)", " dot "),
        "upper_words": lambda v, r: _spell(v, " AT ", " DOT "),
        "fullwidth_at_dot": lambda v, r: v.replace("@", "＠").replace(".", "．"),
        "hash": lambda v, r: v.replace("@", "#"),
        "spaced": lambda v, r: _spell(v, " @ ", " . "),
        "chinese_words": lambda v, r: _spell(v, "艾特", "点"),
        "mixed_case": lambda v, r: "".join(c.upper() if r.random() < 0.5 else c for c in v),
    },
    "landline": {
        "dashed": lambda v, r: "-".join(_area(v)),
        "paren": lambda v, r: "({}){}".format(*_area(v)),
        "fullwidth_paren_spaced": lambda v, r: f"（{_area(v)[0]}）{_local(v, ' ')}".translate(FULL),
        "spaced": lambda v, r: f"{_area(v)[0]} {_local(v, ' ')}",
        "dashed_local": lambda v, r: f"{_area(v)[0]}-{_local(v, '-')}",
        "plus86_spaced": lambda v, r: f"+86 {_area(v)[0][1:]} {_local(v, ' ')}",
        "86_dashed": lambda v, r: f"86-{_area(v)[0][1:]}-{_area(v)[1]}",
        "ext_zh": lambda v, r: "-".join(_area(v)) + f"转{r.randrange(100, 9999)}",
        "ext_en": lambda v, r: "-".join(_area(v)) + f" ext. {r.randrange(1, 999)}",
        "fullwidth": lambda v, r: "-".join(_area(v)).translate(FULL),
        "plain": lambda v, r: v,
        "service": lambda v, r: f"{r.choice('48')}00-{v[-7:-4]}-{v[-4:]}",
        "local_only": lambda v, r: _local(v, r.choice(("", " ", "-"))),  # no area code
    },
    "uscc": {
        "plain": lambda v, r: v,
        "lower": lambda v, r: v.lower(),
        "spaced": lambda v, r: _groups(v, (2, 6, 9), " "),
        "fullwidth": lambda v, r: v.translate(FULL),
    },
    "address": {
        "plain": lambda v, r: v,
        "spaced": lambda v, r: v.replace("市", "市 ", 1).replace("区", "区 ", 1),
        "fullwidth_numbers": lambda v, r: v.translate(FULL),
    },
    "name": {
        "plain": lambda v, r: v,
        "spaced": lambda v, r: v[0] + " " + v[1:] if len(v) == 2 else v,
    },
}


def _spell(email: str, at: str, dot: str) -> str:
    user, domain = email.split("@", 1)
    return user + at + domain.replace(".", dot)


# Sentences of a remarks column; {x} slots name an entity of this row (own) or someone else's.
NOTES = (
    "客户{name}来电称身份证号{resident_id}已变更，请联系{mobile}核实。",
    "经办人核对：持卡人{name}，卡号{bank_card}，预留手机{mobile}。",
    "{name}反映车辆{plate}于上月被违停抄告，邮箱{email}已收到通知。",
    "户主{name}现住{address}，配偶{other_name}，配偶电话{other_mobile}。",
    "紧急联系人{other_name}（手机{other_mobile}），本人证件{resident_id}。",
    "企业信用代码{uscc}，法定代表人{name}，联系邮箱{email}。",
    "退款至{bank_card}，收款人{name}，地址：{address}。",
    "已电话告知{name}（{mobile}），其车牌{plate}，身份证{resident_id}。",
    "无",
    "材料齐全，已办结。",
    # people other than the subject, with no word naming them as such
    "昨天下午{said}说材料已补齐，请与{with}联系，单位电话{landline}。",
    "联系人{contact}，座机{other_landline}，邮箱{other_email}。",
    "已转交{title}处理，参会：{list1}、{list2}、{list3}。",
    "本人邮箱{email}，{said}表示同意，回电{landline}。",
    "经{with}核实，{title}来访，请回拨{other_landline}。",
    "本月合计金额3,280.50元，编号DS-2024-0012，2024年3月15日办结。",
)
_SHAPE_OF = {"other_name": "name", "other_mobile": "mobile", "other_landline": "landline",
             "other_email": "email"}  # fmt: skip
# Slots naming someone else in a context of their own: the recall table reports each.
_PEOPLE = {"said": "said", "with": "with", "contact": "contact", "title": "title",
           "list1": "list", "list2": "list", "list3": "list"}  # fmt: skip


# Shapes that say what they are only in a sentence (电话 8765 4321): planted in the remarks only.
IN_TEXT_ONLY = {"local_only"}


def _shaped(kind: str, value: str, rng: random.Random, in_text: bool = False) -> tuple[str, str]:
    shape = rng.choice(sorted(s for s in SHAPES[kind] if in_text or s not in IN_TEXT_ONLY))
    return shape, SHAPES[kind][shape](value, rng)


def export(rows: int, seed: int = 13) -> tuple[pd.DataFrame, list[Planted]]:
    """A department's export of ``rows`` people (Chinese headers, real shapes, a remarks
    column), deterministic for ``seed``, and every raw value planted in it."""
    rng = random.Random(seed)
    faker = Faker("zh_CN")
    faker.seed_instance(seed)
    records, planted = [], []
    for row in range(rows):
        name_kind, name = _name(faker, rng)
        values = {
            "name": name,
            "resident_id": _resident_id(faker, rng),
            "mobile": _mobile(rng),
            "bank_card": _bank_card(rng),
            "plate": _plate(rng),
            "email": _email(faker, rng),
            "address": _address(faker, rng),
            "uscc": _uscc(rng),
        }
        landline = _landline(rng)
        record = {}
        for kind, value in values.items():
            shape, written = _shaped(kind, value, rng)
            shape = f"{name_kind}/{shape}" if kind == "name" else shape
            record[HEADERS[kind]] = written
            planted.append(Planted(row, HEADERS[kind], ENTITY[kind], shape, written))
        shape, written = _shaped("landline", landline, rng)
        record[HEADERS["landline"]] = written
        planted.append(Planted(row, HEADERS["landline"], "CN_LANDLINE", shape, written))
        own = dict(values, landline=landline)
        for column in ("notes", "log"):
            template = NOTES[(row if column == "notes" else row * 7 + 3) % len(NOTES)]
            text, found = _fill(template, own, name_kind, faker, rng)
            record[HEADERS[column]] = text
            planted += [Planted(row, HEADERS[column], *p) for p in found]
        record["办理日期"] = f"2024-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
        record["业务类型"] = rng.choice(("开户", "变更", "注销", "补办", "年审"))
        record["金额"] = round(rng.uniform(10, 5000), 2)
        records.append(record)
    return pd.DataFrame.from_records(records), planted


def _fill(
    template: str, own: dict[str, str], name_kind: str, faker: Faker, rng: random.Random
) -> tuple[str, list[tuple[str, str, str]]]:
    """``template`` with its slots filled (the row's own values or someone else's) and what
    was planted: (entity, shape, written value) each."""
    fills, found = {}, []
    slots = [s for s in (*ENTITY, *_SHAPE_OF, *_PEOPLE) if "{" + s + "}" in template]
    for slot in slots:  # in a fixed order: the draws must not depend on string hashing
        if slot in _PEOPLE:
            kind_of_name, value = _other_name(faker, rng)
            if slot == "title":
                surname = value[:2] if value[:2] in COMPOUND else value[0]
                value = (value if kind_of_name == "minority" else surname) + rng.choice(TITLES)
            fills[slot] = value
            found.append(("CN_NAME", f"other/{kind_of_name}/{_PEOPLE[slot]}", value))
            continue
        kind = _SHAPE_OF.get(slot, slot)
        kind_of_name = name_kind
        if slot == kind:
            value = own[kind]
        elif kind == "name":
            kind_of_name, value = _name(faker, rng)
        elif kind == "email":
            value = _email(faker, rng)
        elif kind == "landline":
            value = _landline(rng)
        else:
            value = _mobile(rng)
        shape, written = _shaped(kind, value, rng, in_text=True)
        shape = f"{kind_of_name}/{shape}" if kind == "name" else shape
        fills[slot] = written
        tag = "other/" if slot != kind else ""
        found.append((ENTITY[kind], tag + shape, written))
    return template.format(**fills), found


def served_raw(served: pd.DataFrame, planted: list[Planted], rows) -> list[Planted]:
    """The planted values of the table's rows ``rows`` (the sample's row positions, in the
    served order) that appear in a served cell, in any spelling (compared compact: folded,
    separators dropped, upper-cased). Identifiers are looked for in every cell; names, which
    are short and recur in place names (高明区), in their own row."""
    from hub.masking.normal import compact

    positions = [int(r) for r in rows]
    cells = [[compact(v) for v in row if v is not None] for row in served.to_numpy().tolist()]
    by_row = {r: "\0".join(c) for r, c in zip(positions, cells, strict=False)}
    everything = "\0".join(by_row.values())
    return [
        p
        for p in planted
        if p.row in by_row
        and compact(p.value) in (by_row[p.row] if p.entity == "CN_NAME" else everything)
    ]


def recall(
    table: pd.DataFrame, planted: list[Planted], mask: Callable[[str], str]
) -> dict[tuple[str, str], tuple[int, int]]:
    """Per (entity, shape): how many planted values ``mask`` (a one-cell masker) hid, of how
    many; the cell is masked alone, with no help from its row or its column's policy."""
    from hub.masking.normal import compact

    cache: dict[tuple[int, str], str] = {}
    out: dict[tuple[str, str], list[int]] = {}
    for p in planted:
        key = (p.row, p.column)
        if key not in cache:
            cache[key] = compact(mask(table.at[p.row, p.column]))
        hit = out.setdefault((p.entity, p.shape.removeprefix("other/")), [0, 0])
        hit[0] += compact(p.value) not in cache[key]
        hit[1] += 1
    return {k: (v[0], v[1]) for k, v in sorted(out.items())}
