"""Column masking operators: a small plug-in family registered by name.

The hub desensitizes a :class:`pandas.DataFrame` column by column before any data reaches a
tenant. Each operator is a function ``(series, ctx, **params) -> Series | None`` registered
under a name with :func:`register`; :func:`apply` looks it up in :data:`OPERATORS`. ``None``
means the column is dropped. Operators keep the index and name, keep nulls null, and work on
the whole column at once: pandas/numpy vectorized calls, or one Python call per *unique*
value (:func:`_map_unique`) where per-value work is unavoidable (HMAC, Faker, address parsing).

Keyed operators (``pseudonym``, ``surrogate``, ``date_shift``, ``noise``) take their secret
from :class:`MaskContext`, whose key :func:`derive_key` derives per tenant and scenario, so the
same value masks identically within one tenant's scenario and is unlinkable across them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from faker import Faker

Operator = Callable[..., pd.Series | None]
OPERATORS: dict[str, Operator] = {}
GENERALIZED = "（已泛化）"
SURROGATE_KINDS = ("name", "address", "phone_number", "company", "email")


@dataclass(frozen=True)
class MaskContext:
    """Secrets and settings shared by the operators masking one tenant's scenario."""

    key: bytes = field(repr=False)
    locale: str = "zh_CN"

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("masking key must be non-empty")


class UnknownOperator(KeyError):
    """Raised by :func:`apply` for a name that no operator is registered under."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _encode(*parts: str) -> bytes:
    """Length-prefix each UTF-8 part so that distinct tuples never encode alike."""
    out = bytearray()
    for part in parts:
        raw = part.encode("utf-8")
        out += len(raw).to_bytes(4, "big") + raw
    return bytes(out)


def _mac(key: bytes, *parts: str) -> bytes:
    return hmac.new(key, _encode(*parts), hashlib.sha256).digest()


class FastHmac:
    """HMAC-SHA256 under one key with the padded key's inner and outer states hashed once
    (RFC 2104), so each message costs two hash-object copies: half of :func:`hmac.digest`'s
    per-call cost, which masking a million cells pays a million times."""

    def __init__(self, key: bytes):
        if len(key) > 64:
            key = hashlib.sha256(key).digest()
        padded = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def digests(self, messages: list[bytes]) -> list[bytes]:
        """The MACs of many messages (one loop, no call per message)."""
        inner, outer, out = self._inner, self._outer, []
        for message in messages:
            i = inner.copy()
            i.update(message)
            o = outer.copy()
            o.update(i.digest())
            out.append(o.digest())
        return out


def derive_key(master: bytes, tenant: str, scenario: str) -> bytes:
    """Derive the masking key of one tenant's scenario from the platform master key."""
    if not master:
        raise ValueError("master key must be non-empty")
    return _mac(master, "shuyu.masking.v1", tenant, scenario)


def _seed(key: bytes, *parts: str) -> int:
    """A deterministic 64-bit seed from the key and a label."""
    return int.from_bytes(_mac(key, *parts)[:8], "big")


def register(name: str) -> Callable[[Operator], Operator]:
    """Register the decorated function as the operator called ``name``."""

    def decorator(fn: Operator) -> Operator:
        if name in OPERATORS:
            raise ValueError(f"masking operator {name!r} is already registered")
        OPERATORS[name] = fn
        return fn

    return decorator


def apply(name: str, series: pd.Series, ctx: MaskContext, **params: Any) -> pd.Series | None:
    """Mask ``series`` with the operator called ``name``; ``None`` means drop the column."""
    op = OPERATORS.get(name)
    if op is None:
        raise UnknownOperator(
            f"unknown masking operator {name!r}; known: {', '.join(sorted(OPERATORS))}"
        )
    return op(series, ctx, **params)


# --- helpers ------------------------------------------------------------------------------------
def _canonical(value: Any) -> str:
    """Text form of a cell, so that 5, 5.0 and "5" mask alike."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _as_text(series: pd.Series) -> pd.Series:
    """Non-null values as text; integral floats (integers upcast by nulls) lose their ".0"."""
    present = series.dropna()
    if pd.api.types.is_float_dtype(present.dtype) and bool((present % 1 == 0).all()):
        present = present.astype("int64")
    return present.astype(str)


def _texts(values: list) -> list[bytes]:
    """Canonical UTF-8 text of each value (strings as they are)."""
    return [(v if type(v) is str else _canonical(v)).encode("utf-8") for v in values]


def _map_unique(
    series: pd.Series,
    fn: Callable[[Any], Any] | None = None,
    *,
    batch: Callable[[list], list] | None = None,
) -> pd.Series:
    """Apply ``fn`` once per distinct non-null value (or ``batch`` once to the list of them)
    and map the results back; nulls stay null."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    values = np.asarray(uniques, dtype=object).tolist()
    results = np.empty(len(values) + 1, dtype=object)
    results[:-1] = batch(values) if batch is not None else [fn(v) for v in values]
    results[-1] = None  # code -1: a null cell
    return pd.Series(results[codes], index=series.index, name=series.name)


def _to_datetime(series: pd.Series) -> tuple[pd.Series, str]:
    """Parse a column as datetimes; also return its style ("datetime64", "date" or "string")."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return series, "datetime64"
    inferred = pd.api.types.infer_dtype(series, skipna=True)
    if inferred in ("date", "datetime"):
        return pd.to_datetime(series), "date" if inferred == "date" else "datetime64"
    return pd.to_datetime(series, errors="coerce", format="ISO8601"), "string"


def _restyle(dt: pd.Series, style: str) -> pd.Series:
    """Convert shifted datetimes back to the style the input came in."""
    if style == "date":
        return dt.dt.date.where(dt.notna(), None)
    if style == "string":
        present = dt.dropna()
        midnight = bool((present == present.dt.normalize()).all())
        return dt.dt.strftime("%Y-%m-%d" if midnight else "%Y-%m-%dT%H:%M:%S")
    return dt


# --- operators ----------------------------------------------------------------------------------
@register("drop")
def drop(series: pd.Series, ctx: MaskContext) -> None:
    """Drop the column entirely."""
    return None


@register("mask")
def mask(
    series: pd.Series,
    ctx: MaskContext,
    *,
    keep_prefix: int = 0,
    keep_suffix: int = 4,
    char: str = "*",
) -> pd.Series:
    """Keep ``keep_prefix`` leading and ``keep_suffix`` trailing characters, mask the rest.

    Length is preserved; values not longer than ``keep_prefix + keep_suffix`` are fully masked.
    """
    if keep_prefix < 0 or keep_suffix < 0 or len(char) != 1:
        raise ValueError("mask needs non-negative keep counts and a one-character mask char")
    import pyarrow as pa
    import pyarrow.compute as pc

    text = _as_text(series)
    values = pa.array(text.to_numpy(dtype=object), type=pa.large_string())
    length = pc.utf8_length(values)
    hidden = pc.max_element_wise(pc.subtract(length, keep_prefix + keep_suffix), 0)
    short = pc.less_equal(length, keep_prefix + keep_suffix)
    fill, empty = pa.scalar(char, pa.large_string()), pa.scalar("", pa.large_string())
    head = pc.utf8_slice_codeunits(values, 0, keep_prefix)
    tail = pc.utf8_slice_codeunits(values, -keep_suffix) if keep_suffix else empty
    masked = pc.binary_join_element_wise(head, pc.binary_repeat(fill, hidden), tail, empty)
    masked = pc.if_else(short, pc.binary_repeat(fill, length), masked)
    out = pd.Series(masked.to_numpy(zero_copy_only=False), index=text.index, dtype=object)
    return out.reindex(series.index).rename(series.name)


def _pseudonyms_of(mac: FastHmac, values: list, prefix: str, length: int) -> list[str]:
    """The pseudonyms of distinct values: ``prefix`` plus truncated HMAC-SHA256 hex."""
    return [prefix + d.hex()[:length] for d in mac.digests(_texts(values))]


@register("pseudonym")
def pseudonym(
    series: pd.Series, ctx: MaskContext, *, prefix: str = "P", length: int = 16
) -> pd.Series:
    """Replace each value by a keyed, deterministic pseudonym (joinable within one key)."""
    if not 8 <= length <= 64:
        raise ValueError("pseudonym length must be between 8 and 64 hex characters")
    mac = FastHmac(ctx.key)
    return _map_unique(series, batch=lambda vs: _pseudonyms_of(mac, vs, prefix, length))


@register("round")
def round_(series: pd.Series, ctx: MaskContext, *, base: float = 10) -> pd.Series:
    """Round numbers to the nearest multiple of ``base`` (halves round up)."""
    if base <= 0:
        raise ValueError("round base must be positive")
    numbers = pd.to_numeric(series, errors="coerce")
    out = np.floor(numbers / base + 0.5) * base
    if pd.api.types.is_integer_dtype(series.dtype) and float(base).is_integer():
        out = out.astype(series.dtype)
    return out


_UNIT = r"[^\W\d_省市区县旗]"  # a character of a place name above district level
_ADDRESS = re.compile(
    rf"(?P<province>(?:北京|天津|上海|重庆)市|{_UNIT}{{2,3}}?省|{_UNIT}{{2,8}}?自治区"
    rf"|{_UNIT}{{2}}特别行政区)?"
    rf"(?P<city>{_UNIT}{{1,10}}?(?:自治州|地区|盟|市))?"
    r"(?P<district>[^\W\d_省区县旗]{1,12}?[区县旗市])"
)


def _district_of(address: Any, placeholder: str) -> str:
    """The address up to its first district-level unit, or ``placeholder``."""
    text = str(address).strip()
    m = _ADDRESS.match(text)
    if m is None:
        return placeholder
    # A district-level "市" (county-level city) needs a prefecture before it, or a province and
    # more address after it (provincially administered); otherwise it is just a prefecture.
    county_city = bool(m["city"] or (m["province"] and m.end() < len(text)))
    if m["district"].endswith("市") and not county_city:
        return placeholder
    return m.group(0)


def _age_band(series: pd.Series, width: int) -> pd.Series:
    ages = pd.to_numeric(series, errors="coerce").dropna()
    low = (np.floor(ages / width) * width).astype("int64")
    bands = low.astype(str) + "-" + (low + width - 1).astype(str)
    return bands.reindex(series.index)


@register("generalize")
def generalize(
    series: pd.Series,
    ctx: MaskContext,
    *,
    kind: str,
    width: int = 10,
    base: float = 10,
    placeholder: str = GENERALIZED,
) -> pd.Series:
    """Coarsen values: ``age_band`` (ages to "30-39"), ``month`` (dates to "YYYY-MM"), ``year``
    (dates to "YYYY"), ``district`` (addresses to their district) or ``round`` (numbers to a
    multiple of ``base``).
    """
    if kind == "age_band":
        if width < 1:
            raise ValueError("age band width must be at least 1")
        return _age_band(series, int(width))
    if kind == "month":
        return _to_datetime(series)[0].dt.strftime("%Y-%m")
    if kind == "year":
        return _to_datetime(series)[0].dt.strftime("%Y")
    if kind == "district":
        return _map_unique(series, lambda v: _district_of(v, placeholder))
    if kind == "round":
        return round_(series, ctx, base=base)
    raise ValueError(f"unknown generalize kind {kind!r}")


_FAKERS = threading.local()


def _faker(locale: str) -> Faker:
    """A per-thread cached Faker (building one is slow; reseeding is not thread-safe)."""
    cache = _FAKERS.__dict__.setdefault("by_locale", {})
    if locale not in cache:
        cache[locale] = Faker(locale)
    return cache[locale]


_SYLLABLES = (
    "an", "bo", "chen", "da", "fei", "gang", "hua", "jie", "kai", "lin", "ming", "na", "ping",
    "qiang", "rui", "shan", "ting", "wei", "xin", "yang", "yu", "zhi", "zhou", "li",
)  # fmt: skip
_FAKE_DOMAINS = ("example.com", "example.net", "example.org")


def _fake_emails(mac: FastHmac, values: list) -> list[str]:
    """Consistent fake e-mail addresses of distinct values, on reserved example domains (never
    a real mailbox)."""
    texts = _texts(values)
    syllables, domains = _SYLLABLES, _FAKE_DOMAINS
    ns, nd = len(syllables), len(domains)
    out = []
    for text, d in zip(texts, mac.digests([b"email\0" + t for t in texts]), strict=True):
        fake = (
            f"{syllables[d[0] % ns]}{syllables[d[1] % ns]}"
            f"{(d[2] << 8 | d[3]) % 10000}@{domains[d[4] % nd]}"
        )
        if fake.encode() == text:  # astronomically rare: derive another
            fake = "x" + fake
        out.append(fake)
    return out


def _surrogate_of(faker: Faker, key: bytes, kind: str, value: Any) -> str:
    """The consistent fake of one value: Faker reseeded from HMAC(key, kind, value)."""
    text = _canonical(value)
    for attempt in range(16):
        faker.seed_instance(_seed(key, "surrogate", kind, text, str(attempt)))
        fake = str(getattr(faker, kind)())
        if fake != text:
            return fake
    raise RuntimeError(f"no surrogate differing from the input for kind {kind!r}")


@register("surrogate")
def surrogate(series: pd.Series, ctx: MaskContext, *, kind: str) -> pd.Series:
    """Replace each value by a realistic, consistent fake ``kind`` (same value → same fake)."""
    if kind not in SURROGATE_KINDS:
        raise ValueError(f"surrogate kind must be one of {SURROGATE_KINDS}, not {kind!r}")
    if kind == "email":  # Faker's e-mails cost ~50 µs each and use real mail domains
        mac = FastHmac(ctx.key)
        return _map_unique(series, batch=lambda vs: _fake_emails(mac, vs))
    faker = _faker(ctx.locale)
    return _map_unique(series, lambda v: _surrogate_of(faker, ctx.key, kind, v))


def _shift_days(key: bytes, max_days: int) -> int:
    """The key's date shift: a non-zero number of days in [-max_days, max_days]."""
    if max_days < 1:
        raise ValueError("max_days must be at least 1")
    n = _seed(key, "date_shift") % (2 * max_days)
    return n - max_days if n < max_days else n - max_days + 1


@register("date_shift")
def date_shift(series: pd.Series, ctx: MaskContext, *, max_days: int = 30) -> pd.Series:
    """Shift every date by the same key-derived number of days, keeping intervals intact.

    Unparseable strings become null; the output keeps the input style (datetime64, ``date``
    objects or ISO strings).
    """
    dt, style = _to_datetime(series)
    return _restyle(dt + pd.Timedelta(days=_shift_days(ctx.key, max_days)), style)


@register("noise")
def noise(
    series: pd.Series, ctx: MaskContext, *, scale: float = 1.0, round_to: int | None = None
) -> pd.Series:
    """Add Laplace noise of ``scale``, deterministic per key and column name.

    ``round_to`` (decimal places) rounds the noisy values when given.
    """
    if scale <= 0:
        raise ValueError("noise scale must be positive")
    rng = np.random.default_rng(_seed(ctx.key, "noise", str(series.name)))
    numbers = pd.to_numeric(series, errors="coerce").astype("float64")
    out = numbers + rng.laplace(0.0, scale, size=len(numbers))
    return out.round(round_to) if round_to is not None else out
