"""Building blocks of the synthetic demo world: vocabularies, identifiers, people and enterprises.

Everything is vectorized with numpy. Faker (``zh_CN``, seeded) is called only to build small pools
of names and street names; rows are then drawn from the pools by integer indexing. Strings stay
numpy ``StringDType`` arrays until :mod:`hub.demo.datasets` turns them into pandas columns.

Check characters come from :mod:`hub.validators`, called once per unique identifier, so the
checksum arithmetic is written only there. Cached entities are shared between datasets, so their
arrays are read-only.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import lru_cache, reduce

import numpy as np
from faker import Faker

from hub.validators import USCC_ALPHABET, resident_id_check_char, uscc_check_char

STR = np.dtypes.StringDType()
AS_OF = np.datetime64("2024-12-31", "D")  # the demo world's "today"; no date lies after it

# Hangzhou districts: administrative division code, name, resident population (10k, rounded).
_DISTRICTS = (
    ("330102", "上城区", 133),
    ("330105", "拱墅区", 118),
    ("330106", "西湖区", 115),
    ("330108", "滨江区", 55),
    ("330109", "萧山区", 212),
    ("330110", "余杭区", 135),
    ("330111", "富阳区", 84),
    ("330112", "临安区", 64),
    ("330113", "临平区", 117),
    ("330114", "钱塘区", 82),
)
DISTRICT_CODES = np.array([d[0] for d in _DISTRICTS], dtype=STR)
DISTRICT_NAMES = np.array([d[1] for d in _DISTRICTS], dtype=STR)
DISTRICT_WEIGHTS = np.array([d[2] for d in _DISTRICTS], dtype=float) / sum(d[2] for d in _DISTRICTS)

# Industry sections (GB/T 4754) with business words that appear in company names.
INDUSTRIES = (
    ("信息传输、软件和信息技术服务业", ("网络科技", "信息技术", "软件", "数据科技")),
    ("批发和零售业", ("贸易", "商贸", "电子商务", "百货")),
    ("制造业", ("机械制造", "电子", "服饰", "食品", "新材料")),
    ("建筑业", ("建设工程", "装饰工程", "建筑劳务")),
    ("住宿和餐饮业", ("餐饮管理", "酒店管理")),
    ("交通运输、仓储和邮政业", ("物流", "供应链管理", "运输")),
    ("租赁和商务服务业", ("企业管理咨询", "人力资源", "广告")),
    ("科学研究和技术服务业", ("生物科技", "检测技术", "环保科技")),
    ("房地产业", ("房地产开发", "物业管理")),
    ("文化、体育和娱乐业", ("文化传媒", "体育发展", "影视")),
    ("居民服务、修理和其他服务业", ("家政服务", "汽车维修")),
    ("教育", ("教育科技", "培训")),
)
_TRADE_CHARS = (
    "华鑫瑞恒泰博达通宏创盛远新德信源宇嘉昊晟诚汇辰启卓越睿思凯腾锦和安立正中天明光海星云峰智"
    "联祥福丰元东湖江之韵美佳顺鸿益兴隆发成金银万利众合优品君悦汉唐宁康聚力航"
)
_STATUSES = np.array(["存续", "在业", "注销", "吊销", "迁出"], dtype=STR)
_STATUS_WEIGHTS = (0.80, 0.05, 0.10, 0.04, 0.01)
ACTIVE_STATUSES = ("存续", "在业")

# Age bands (years at AS_OF, half-open) with population shares; nobody is younger than two.
_AGE_BANDS = (
    (2, 10, 0.08), (10, 20, 0.09), (20, 30, 0.12), (30, 40, 0.18), (40, 50, 0.15),
    (50, 60, 0.15), (60, 70, 0.12), (70, 80, 0.08), (80, 90, 0.03),
)  # fmt: skip

# 3-digit mobile segments in use by the three carriers.
_MOBILE_PREFIXES = [
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152",
    "153", "155", "156", "157", "158", "159", "166", "173", "175", "176", "177", "178", "180",
    "181", "182", "183", "184", "185", "186", "187", "188", "189", "191", "195", "198", "199",
]  # fmt: skip
_DIGITS = np.array(list("0123456789"), dtype=STR)
_PLATE_LETTERS = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZ"), dtype=STR)  # no I, no O
_USCC_CHARS = np.array(list(USCC_ALPHABET), dtype=STR)


# --- small vectorized helpers --------------------------------------------------------------------
def rng_for(seed: int, *labels: str | int) -> np.random.Generator:
    """Return a generator keyed by ``seed`` and labels; stable across processes and runs."""
    keys = [zlib.crc32(x.encode()) if isinstance(x, str) else int(x) for x in labels]
    return np.random.default_rng([seed, *keys])


def text(values: object) -> np.ndarray:
    """Return ``values`` as a numpy ``StringDType`` array."""
    return np.asarray(values, dtype=STR)


def cat(*parts: object) -> np.ndarray:
    """Concatenate string arrays and scalars element-wise."""
    return reduce(np.strings.add, (np.asarray(p, dtype=STR) for p in parts))


def zfill(values: np.ndarray, width: int) -> np.ndarray:
    """Format integers as zero-padded decimal strings."""
    return np.strings.zfill(np.asarray(values).astype(STR), width)


def draw(rng: np.random.Generator, pool: np.ndarray, n: int, p: object = None) -> np.ndarray:
    """Draw ``n`` items of ``pool`` with replacement (optionally with probabilities ``p``)."""
    return pool[rng.choice(len(pool), size=n, p=p)]


def unique_ints(rng: np.random.Generator, space: int, n: int) -> np.ndarray:
    """Draw ``n`` distinct integers below ``space`` (with repeats only if ``n > space``)."""
    return rng.choice(space, size=n, replace=n > space)


def ymd(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split datetime64 values into year, month and day integer arrays."""
    d = dates.astype("datetime64[D]")
    month_start = d.astype("datetime64[M]")
    year = d.astype("datetime64[Y]").astype(np.int64) + 1970
    month = month_start.astype(np.int64) % 12 + 1
    day = (d - month_start).astype(np.int64) + 1
    return year, month, day


def age_on(birth: np.ndarray, when: np.ndarray) -> np.ndarray:
    """Return whole years of age on ``when`` (an array or one date) of people born on ``birth``."""
    by, bm, bd = ymd(birth)
    wy, wm, wd = ymd(when)
    return wy - by - (wm * 100 + wd < bm * 100 + bd)


def _frozen(*arrays: np.ndarray) -> None:
    for a in arrays:
        a.flags.writeable = False


# --- identifiers ---------------------------------------------------------------------------------
def _sequence(rng: np.random.Generator, male: np.ndarray) -> np.ndarray:
    """Three-digit order codes: odd for men, even for women."""
    return 2 * rng.integers(1, 500, size=len(male)) - male.astype(np.int64)


def resident_ids(
    rng: np.random.Generator, district: np.ndarray, birth: np.ndarray, male: np.ndarray
) -> np.ndarray:
    """Build distinct, valid 18-character resident ID numbers (GB 11643)."""
    year, month, day = ymd(birth)
    head = (
        DISTRICT_CODES[district].astype(np.int64) * 10**11
        + (year * 10**4 + month * 100 + day) * 1000
    )
    seq = _sequence(rng, male)
    while True:  # redraw the order code of the rare clashing IDs
        _, first = np.unique(head + seq, return_index=True)
        clash = np.ones(len(seq), dtype=bool)
        clash[first] = False
        if not clash.any():
            break
        seq[clash] = _sequence(rng, male[clash])
    first17 = (head + seq).astype(STR).tolist()
    return text([p + resident_id_check_char(p) for p in first17])


def _base31(values: np.ndarray, width: int) -> np.ndarray:
    chars = [_USCC_CHARS[(values // 31**k) % 31] for k in reversed(range(width))]
    return cat(*chars)


def _org_check(body8: np.ndarray) -> np.ndarray:
    """Check character of a digits-only 8-character organisation code (GB 11714)."""
    total = sum(
        ((body8 // 10 ** (7 - i)) % 10) * w for i, w in enumerate((3, 7, 9, 10, 5, 8, 4, 2))
    )
    c = 11 - total % 11
    return np.where(c == 10, "X", np.where(c == 11, "0", c.astype(STR))).astype(STR)


def credit_codes(rng: np.random.Generator, district: np.ndarray, old: np.ndarray) -> np.ndarray:
    """Build distinct, valid unified social credit codes of enterprises (GB 32100).

    Enterprises registered before the 2015 reform (``old``) keep their former organisation code
    as characters 9-17; newer ones get a Hangzhou-style ``MA2xxxxxx`` code.
    """
    n = len(district)
    org = np.empty(n, dtype=STR)
    body = unique_ints(rng, 10**8, int(old.sum()))
    org[old] = cat(zfill(body, 8), _org_check(body))
    org[~old] = cat("MA2", _base31(unique_ints(rng, 31**6, int((~old).sum())), 6))
    first17 = cat("91", DISTRICT_CODES[district], org).tolist()
    return text([p + uscc_check_char(p) for p in first17])


def mobiles(rng: np.random.Generator, n: int) -> np.ndarray:
    """Mainland mobile numbers: a real 3-digit segment and eight random digits."""
    return cat(draw(rng, text(_MOBILE_PREFIXES), n), zfill(rng.integers(0, 10**8, n), 8))


def plates(rng: np.random.Generator, n: int, prefix: str = "浙A") -> np.ndarray:
    """Distinct plate numbers: ``prefix`` and five digits or letters (never I or O)."""

    def one_char(k: int) -> np.ndarray:
        letter = rng.random(k) < 0.2
        return np.where(letter, draw(rng, _PLATE_LETTERS, k), draw(rng, _DIGITS, k)).astype(STR)

    out = cat(prefix, *(one_char(n) for _ in range(5)))
    while True:
        _, first = np.unique(out, return_index=True)
        clash = np.ones(n, dtype=bool)
        clash[first] = False
        if not clash.any():
            return out
        k = int(clash.sum())
        out[clash] = cat(prefix, *(one_char(k) for _ in range(5)))


# --- Faker pools ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class FakerPools:
    """Pools drawn once from a seeded ``zh_CN`` Faker."""

    male_names: np.ndarray
    female_names: np.ndarray
    streets: np.ndarray


@lru_cache(maxsize=4)
def faker_pools(seed: int) -> FakerPools:
    """Build the name and street pools for ``seed`` (a few thousand Faker calls, cached)."""
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    # zh_CN name_male()/name_female() mix first names of both genders, so compose names here;
    # dict.fromkeys de-duplicates while keeping a deterministic order.
    male = dict.fromkeys(fake.last_name() + fake.first_name_male() for _ in range(3000))
    female = dict.fromkeys(fake.last_name() + fake.first_name_female() for _ in range(3000))
    streets = dict.fromkeys(fake.street_name() for _ in range(1000))
    pools = FakerPools(text(list(male)), text(list(female)), text(list(streets)))
    _frozen(pools.male_names, pools.female_names, pools.streets)
    return pools


def addresses(rng: np.random.Generator, district: np.ndarray, streets: np.ndarray) -> np.ndarray:
    """Street addresses in the given districts, some with building and room numbers."""
    n = len(district)
    head = cat(
        "浙江省杭州市",
        DISTRICT_NAMES[district],
        draw(rng, streets, n),
        rng.integers(1, 999, n).astype(STR),
        "号",
    )
    room = cat(
        rng.integers(1, 30, n).astype(STR),
        "幢",
        rng.integers(1, 28, n).astype(STR),
        zfill(rng.integers(1, 6, n), 2),
        "室",
    )
    floor = cat(rng.integers(1, 25, n).astype(STR), "层")
    kind = rng.random(n)
    return cat(head, np.where(kind < 0.55, room, np.where(kind < 0.8, floor, "")))


# --- the city's people ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Population:
    """Residents of the demo city; datasets refer to them by index."""

    resident_id: np.ndarray
    name: np.ndarray
    male: np.ndarray
    birth: np.ndarray  # datetime64[D]
    district: np.ndarray  # index into DISTRICT_CODES / DISTRICT_NAMES
    mobile: np.ndarray

    def gender(self, who: np.ndarray) -> np.ndarray:
        """Return 男/女 for the people at indices ``who``."""
        return np.where(self.male[who], "男", "女").astype(STR)

    def aged(self, low: int, high: int) -> np.ndarray:
        """Indices of people aged ``low`` to ``high`` (inclusive) at AS_OF; everyone if none."""
        age = age_on(self.birth, AS_OF)
        idx = np.flatnonzero((age >= low) & (age <= high))
        return idx if len(idx) else np.arange(len(self.birth))


@lru_cache(maxsize=4)
def population(n: int, seed: int) -> Population:
    """Build ``n`` residents for ``seed`` (cached: several datasets share them)."""
    rng = rng_for(seed, "population", n)
    pools = faker_pools(seed)
    male = rng.random(n) < 0.51
    band = rng.choice(len(_AGE_BANDS), size=n, p=[b[2] for b in _AGE_BANDS])
    low, high = np.array([b[0] for b in _AGE_BANDS]), np.array([b[1] for b in _AGE_BANDS])
    days = (rng.uniform(low[band], high[band]) * 365.2425).astype(np.int64)
    birth = AS_OF - days
    district = rng.choice(len(DISTRICT_CODES), size=n, p=DISTRICT_WEIGHTS)
    male_name, female_name = draw(rng, pools.male_names, n), draw(rng, pools.female_names, n)
    name = np.where(male, male_name, female_name).astype(STR)
    people = Population(
        resident_id=resident_ids(rng, district, birth, male),
        name=name,
        male=male,
        birth=birth,
        district=district,
        mobile=mobiles(rng, n),
    )
    _frozen(*vars(people).values())
    return people


# --- the city's enterprises ----------------------------------------------------------------------
@dataclass(frozen=True)
class Enterprises:
    """Registered enterprises of the demo city; ``legal_rep`` indexes the population."""

    uscc: np.ndarray
    name: np.ndarray
    industry: np.ndarray
    district: np.ndarray
    established: np.ndarray  # datetime64[D]
    capital: np.ndarray  # 10k yuan
    status: np.ndarray
    legal_rep: np.ndarray
    address: np.ndarray

    def active(self) -> np.ndarray:
        """Indices of enterprises still in business; all of them if none is."""
        idx = np.flatnonzero(np.isin(self.status, text(ACTIVE_STATUSES)))
        return idx if len(idx) else np.arange(len(self.status))


@lru_cache(maxsize=4)
def enterprises(n: int, seed: int) -> Enterprises:
    """Build ``n`` enterprises for ``seed``; legal representatives come from ``population(n)``."""
    rng = rng_for(seed, "enterprises", n)
    district = rng.choice(len(DISTRICT_CODES), size=n, p=DISTRICT_WEIGHTS)
    # Young firms dominate: ages are exponential with a 7-year mean, capped at 30 years.
    age_days = np.minimum(rng.exponential(7 * 365.25, n), 30 * 365.25).astype(np.int64)
    established = AS_OF - age_days
    uscc = credit_codes(rng, district, established < np.datetime64("2015-10-01"))

    # Distinct (trade name, business word) pairs give distinct company names (up to ~220k).
    words = [(i, w) for i, (_, ws) in enumerate(INDUSTRIES) for w in ws]
    trades = np.array([a + b for a in _TRADE_CHARS for b in _TRADE_CHARS], dtype=STR)
    pair = unique_ints(rng, len(trades) * len(words), n)
    word_idx = pair % len(words)
    suffix = draw(rng, text(["有限公司", "有限责任公司", "股份有限公司"]), n, p=(0.85, 0.1, 0.05))
    name = cat("杭州", trades[pair // len(words)], text([w for _, w in words])[word_idx], suffix)
    industry = text([s for s, _ in INDUSTRIES])[np.array([i for i, _ in words])[word_idx]]

    # Registered capital (10k yuan): mostly round figures, some odd amounts.
    round_caps = np.array([3, 5, 10, 20, 30, 50, 100, 200, 300, 500, 1000, 2000, 5000, 10000.0])
    capital = np.where(
        rng.random(n) < 0.7,
        draw(rng, round_caps, n),
        np.round(rng.lognormal(np.log(150), 1.2, n), 2),
    )
    status = draw(rng, _STATUSES, n, p=_STATUS_WEIGHTS)
    # Legal representatives were 20 to 65 years old when their firm was founded.
    people = population(n, seed)
    adults = people.aged(22, 89)
    adults = adults[np.argsort(people.birth[adults], kind="stable")]  # oldest first
    born = people.birth[adults]
    first = np.searchsorted(born, established - int(65 * 365.25))
    span = np.searchsorted(born, established - int(20 * 365.25), side="right") - first
    pick = first + (rng.random(n) * np.maximum(span, 1)).astype(np.int64)
    legal_rep = adults[np.minimum(pick, len(adults) - 1)]  # nobody fits: the nearest adult
    address = addresses(rng, district, faker_pools(seed).streets)
    ent = Enterprises(
        uscc, name, industry, district, established, capital, status, legal_rep, address
    )
    _frozen(*vars(ent).values())
    return ent
