"""What a model file holds, checked against the training data the platform holds.

A model that answers queries is a channel out of the domain: categories made up by its author can
carry resident ID numbers, coefficients or tree thresholds can spell an ID a few digits at a
time, and a model of one attribute answers that attribute for any person a consumer names. The
string scan and the membership attack see none of this, so three checks look at the contents:

- :func:`model_support`: every category the ONNX graph matches (one-hot categories, label-encoder
  keys) occurs in the training data in at least ``min_rows`` rows (a thinner one is a warning);
- :func:`model_numbers`: no number in the model (initializers, Constant nodes, numeric attributes
  such as coefficients, intercepts, tree thresholds and leaf weights, category keys, threshold,
  card metrics) equals a raw identifier of the training data (runs of
  11+ digits in any cell, normalized; a long one also without its check digit, and reversed),
  or spells one:
  scaled by any power of ten (digits compared without point, exponent or outer zeros, arithmetic
  noise rounded away), split over numbers that follow one another in the file (either way, any
  number of digits each, lost zeros put back), split in any order into pieces of lengths the
  model holds few numbers of (so that chance rarely spells an identifier), or cut short by a float's precision (a long number beginning like a long identifier);
- :func:`keyed_identity`: a model that answers by key is not a one-to-one function of a single
  raw attribute (a consumer would read that attribute of any person).
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator

import numpy as np
import pandas as pd

from hub.i18n import Msg
from hub.review.checks import FAIL, PASS, WARN, Finding
from sdk.onnx_format import text_column, text_value
from sdk.onnxmodel import OnnxModel

MIN_ID_DIGITS = 11  # a mobile number; shorter runs (dates, amounts, postcodes) are not identifiers
MIN_PIECE = 3  # significant digits of a piece when an identifier is split in any order
MAX_IDENTIFIERS = 2_000_000
ZEROS = 2  # zeros a scaled piece may have lost at either end
PREFIX = 12  # leading digits a long number shares with a long identifier to spell it
_SEPARATORS = re.compile(r"[\s\-‐-―·・.,_/\\|:;'\"()\[\]\u200b-\u200f\u2060\ufeff]")
_RUN = re.compile(rf"\d{{{MIN_ID_DIGITS},}}")


def _cells(column: pd.Series) -> Iterator[str]:
    """The distinct cells of a column as text; floats only where whole (an ID read as a float)."""
    if pd.api.types.is_bool_dtype(column):
        return
    if pd.api.types.is_float_dtype(column):
        x = column.to_numpy(dtype=float, na_value=np.nan)
        x = np.unique(
            x[np.isfinite(x) & (np.abs(x) >= 1e9) & (np.abs(x) < 2**63) & (x == np.trunc(x))]
        )
        yield from (str(int(v)) for v in x)
        return
    yield from pd.unique(column.dropna().astype(str))


def raw_identifiers(frames: Iterable[pd.DataFrame]) -> set[str]:
    """Digit strings of the raw data that could identify someone: every run of eleven or more
    digits in a cell (full-width and separators normalized away); for a long run (a resident ID,
    a bank card) also the run minus its check digit, and both reversed."""
    found: set[str] = set()
    for frame in frames:
        for name in frame.columns:
            for value in _cells(frame[name]):
                text = _SEPARATORS.sub("", unicodedata.normalize("NFKC", value))
                for run in _RUN.findall(text):
                    found.add(run)
                    if len(run) >= 15:  # a resident ID or a bank card: its last digit is a check
                        found.update((run[:-1], run[::-1], run[-2::-1]))
            if len(found) > MAX_IDENTIFIERS:
                return found
    return found


def numbers(value: object) -> Iterator[int | float]:
    """Every number in a JSON value, in document order (booleans are not numbers)."""
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from numbers(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from numbers(item)


def _plain(value: object) -> object:
    """A numpy scalar as the Python number it holds (``numbers`` skips anything else)."""
    return value.item() if isinstance(value, np.generic) else value


def _mantissa(text: str) -> str:
    return text.split("e")[0].replace(".", "").replace("-", "").strip("0") or "0"


def significant(x: int | float) -> str:
    """The digits of ``x`` without sign, point, exponent, leading or trailing zeros ("0" for 0):
    the same for ``x`` and ``x`` scaled by any power of ten."""
    if isinstance(x, int):
        return _mantissa(str(x))
    return _mantissa(repr(float(x))) if np.isfinite(x) else ""


def renderings(x: int | float) -> set[str]:
    """:func:`significant`; a whole number's own digits; a float's shortest decimal within
    arithmetic noise (``330193 * 1e-6`` is ``0.33019299999999996``, an encoder's ``0.330193``);
    and, for a float32 value, its shortest float32 decimal."""
    out = {significant(x)} - {""}
    if isinstance(x, int):
        out.add(str(abs(x)))
    elif np.isfinite(x) and x:
        if float(x).is_integer() and abs(x) < 1e21:
            out.add(str(int(abs(x))))
        for places in range(16):
            text = format(abs(x), f".{places}e")
            if abs(float(text) - abs(x)) <= 1e-12 * abs(x):
                out.add(_mantissa(text))
                break
        single = np.float32(x)
        if float(single) == x and np.isfinite(single):  # ONNX keeps float32: 330.106 is read
            out.add(_mantissa(np.format_float_scientific(abs(single), unique=True)))  # back as
    return out  # 330.10598754882812, and its shortest float32 form is 330.106 again


def _sparse(tokens: set[str]) -> set[str]:
    """The renderings that may be pieces of an identifier in any order: those of a length (three
    digits or more) the model holds few of, so that chance rarely spells one (at most one in
    10,000 strings of that length is a rendering of the model: 1 of 4 digits, 100 of 6)."""
    counts = Counter(map(len, tokens))
    allowed = {n for n, c in counts.items() if n >= MIN_PIECE and c <= 10 ** (n - 4)}
    return {t for t in tokens if len(t) in allowed}


def _spelled(ident: str, pieces: set[str]) -> bool:
    """Whether ``ident`` is a sequence of ``pieces`` (in any order), zeros trimmed."""
    n = len(ident)
    reach = bytearray(n + 1)
    reach[0] = 1
    for i in range(n):
        if reach[i]:
            for j in range(i + MIN_PIECE, n + 1):
                if ident[i:j].strip("0") in pieces:
                    reach[j] = 1
    return bool(reach[n])


class _Sorted:
    """The identifiers, sorted: which of them begin with a string, by bisection."""

    def __init__(self, identifiers: set[str]):
        self.items = sorted(identifiers)

    def starting(self, prefix: str) -> Iterator[str]:
        i = bisect.bisect_left(self.items, prefix)
        while i < len(self.items) and self.items[i].startswith(prefix):
            yield self.items[i]
            i += 1

    def any_starting(self, prefix: str) -> bool:
        i = bisect.bisect_left(self.items, prefix)
        return i < len(self.items) and self.items[i].startswith(prefix)


def _padded(forms: set[str]) -> set[str]:
    """A number's renderings with the zeros a scaled piece may have lost put back, around a
    piece of three digits or more (shorter ones padded would spell too much by chance)."""
    out = set(forms)
    for r in (r for r in forms if len(r) >= 3):
        zeros = ["0" * n for n in range(ZEROS + 1)]
        out |= {head + r + tail for head in zeros for tail in zeros}
    return out


def _chained(forms: list[set[str]], ids: _Sorted, identifiers: set[str]) -> set[str]:
    """Identifiers spelled by numbers that follow one another in the file (either way), any
    number of digits each: walked from every number, pruned as soon as no identifier begins
    with the digits so far."""
    known: dict[frozenset, set[str]] = {}
    padded = [known.setdefault(frozenset(f), _padded(f)) for f in forms]  # trees repeat numbers
    longest = max(map(len, identifiers), default=0)
    begins: dict[str, bool] = {}  # whether an identifier begins with these digits, memoized

    def any_starting(text: str) -> bool:
        found = begins.get(text)
        if found is None:
            found = begins[text] = ids.any_starting(text)
        return found

    hits: set[str] = set()
    for start in range(len(forms)):
        for step in (1, -1):
            todo = [(start, "")]
            while todo:
                k, text = todo.pop()
                if not 0 <= k < len(forms):
                    continue
                for piece in padded[k]:
                    spelled = text + piece
                    if len(spelled) > longest or not any_starting(spelled):
                        continue
                    if spelled in identifiers:
                        hits.add(spelled)
                    todo.append((k + step, spelled))
    return hits


def _prefixes(identifiers: set[str]) -> set[str]:
    """The first 12 digits of the long identifiers: what a float keeps of one, its last digits
    rounded away."""
    return {i[:PREFIX] for i in identifiers if len(i) > PREFIX}


def model_numbers(model: OnnxModel, card: dict, identifiers: set[str]) -> Finding:
    """Fail when the model's numbers carry a raw identifier (see the module's docstring)."""
    values = [*numbers([_plain(v) for v in model.numbers()]), *numbers(card)]
    seen: dict[tuple[type, int | float], set[str]] = {}  # a tree ensemble repeats its numbers
    forms = []
    for x in values:
        if (type(x), x) not in seen:
            seen[type(x), x] = renderings(x)
        forms.append(seen[type(x), x])
    tokens = set().union(*forms) if forms else set()
    ids = _Sorted(identifiers)
    details = {"numbers": len(values), "identifiers": len(identifiers)}
    hits = _chained(forms, ids, identifiers)
    pieces = _sparse(tokens)
    for token in pieces:
        for zeros in range(ZEROS + 1):
            hits |= {i for i in ids.starting("0" * zeros + token) if _spelled(i, pieces)}
    prefixes = _prefixes(identifiers)
    hits |= {t for t in tokens if len(t) > PREFIX and t[:PREFIX] in prefixes}
    details["matches"] = len(hits)
    if hits:
        reason = Msg(
            f"模型中的数值与训练数据中的 {len(hits)} 个原始标识一致或可拼出（按比例缩放或拆分到多个数值）",
            f"numbers in the model equal or spell {len(hits)} raw identifiers of the training data "
            "(scaled by a power of ten or split over several numbers)",
        )
        return Finding("model_numbers", FAIL, reason, details)
    reason = Msg(
        "模型中的数值不含训练数据的原始标识", "no number in the model carries a raw identifier"
    )
    return Finding("model_numbers", PASS, reason, details)


def model_support(model: OnnxModel, training: pd.DataFrame, min_rows: int) -> Finding:
    """Fail when a category the graph matches (one-hot category, label-encoder key) does not
    occur in the training data's column of its feature; warn when one has fewer than
    ``min_rows`` training rows (its weight or branch may reflect single records)."""
    details: dict = {"min_rows": min_rows}
    missing = [f for f in model.features if f not in training.columns]
    if missing:
        reason = Msg("训练数据缺少模型的特征列", "the training data lacks the model's features")
        return Finding("model_support", FAIL, reason, details | {"missing": len(missing)})
    unseen: dict[str, int] = {}
    thin: dict[str, int] = {}
    categories = model.categories()
    for name, labels in categories.items():
        if name not in training.columns:
            unseen[name] = len(labels)
            continue
        rows = pd.Series(text_column(training[name])).value_counts()
        support = rows.reindex([text_value(c) for c in labels]).fillna(0).to_numpy()
        if n := int((support == 0).sum()):
            unseen[name] = n
        if few := int(((support > 0) & (support < min_rows)).sum()):
            thin[name] = few
    details["categories"] = sum(map(len, categories.values()))
    if unseen:
        details["unseen_categories"] = unseen
        what = ", ".join(f"{k}:{v}" for k, v in sorted(unseen.items()))
        reason = Msg(
            f"模型的类别没有出现在训练数据中：{what}",
            f"categories of the model do not occur in the training data: {what}",
        )
        return Finding("model_support", FAIL, reason, details)
    if thin:
        details["thin_categories"] = thin
        what = ", ".join(f"{k}:{v}" for k, v in sorted(thin.items()))
        reason = Msg(
            f"部分类别在训练数据中不足 {min_rows} 行，其权重可能反映个别记录，请人工判断：{what}",
            f"some categories have fewer than {min_rows} training rows; their weights may reflect "
            f"single records, a reviewer should judge: {what}",
        )
        return Finding("model_support", WARN, reason, details)
    reason = Msg(
        "模型的类别均来自训练数据且有足够支撑",
        "every category of the model is backed by the training data",
    )
    return Finding("model_support", PASS, reason, details)


INJECTIVE = 0.95  # distinct answers per distinct value above which the answer reads the value


def _one_to_one(value: pd.Series, answer: pd.Series) -> bool:
    """The answer is a function of the value and tells (nearly) every value apart: float32
    arithmetic may merge a few close values (two incomes a cent apart), which hides nothing."""
    both = pd.DataFrame({"v": value, "a": answer})
    if both.groupby("v")["a"].nunique().max() != 1:
        return False
    return both["a"].nunique() >= INJECTIVE * both["v"].nunique()


def keyed_identity(model: OnnxModel, training: pd.DataFrame) -> Finding | None:
    """For a model that answers by key: fail when its score, or its yes/no answer (核验), and one
    raw attribute determine each other on the training data (a one-to-one function of it, such as
    "is this person a woman?"); None for other models."""
    if not model.key or not len(training):
        return None
    try:
        score = pd.Series(
            model.predict(training), index=training.index
        )  # exact: a tiny weight counts
        verdict = pd.Series(model.answer(training), index=training.index)
    except Exception:  # noqa: BLE001 - a ModelFormatError or onnxruntime refusing the rows
        return Finding("keyed_identity", FAIL, Msg("无法在训练数据上计算模型", "the model cannot be evaluated on its training data"))  # fmt: skip
    for name in model.features:
        value = pd.Series(text_column(training[name]), index=training.index)
        if value.nunique() < 2:
            continue
        if _one_to_one(value, score) or _one_to_one(value, verdict):
            reason = Msg(
                f"按键查询的模型只是原始属性 {name} 的一一映射：使用方可借此读出任何人的该属性",
                f"the model answering by key is a one-to-one function of the raw attribute {name}: "
                "a consumer would read it for any person",
            )
            return Finding("keyed_identity", FAIL, reason, {"attribute": name})
    reason = Msg(
        "模型不是单一原始属性的一一映射", "the model is no one-to-one function of one raw attribute"
    )
    return Finding("keyed_identity", PASS, reason)
