"""The release gate: what a job shows its tenant passes the export checks first.

A job's log lines, output names, metric keys and values are items; each is folded into canonical
spellings (:mod:`hub.production.spelling`) and split into tokens, and the candidates go through
the export checks as they are (``pii_scan`` and ``raw_overlap`` of :mod:`hub.review.checks`),
plus a checksum scan of the folded text, of identifiers written in pieces across consecutive
items, and of raw identifiers spelled by pieces anywhere in the job's output, in any order
(:mod:`hub.production.pieces`). An item any check flags — or that a check could not judge — is
withheld with its reason.

Candidates are checked in bulk (a clean job costs one run of each check per chunk); a failing
chunk is checked again with each item in a column of its own, and the checks' details per column
name the failing items.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hub.i18n import Msg
from hub.production import spelling
from hub.production.pieces import known_numbers, spelled
from hub.review.checks import FAIL, PASS, Context, Finding, rawmatch, run_all
from hub.review.checks.pii import IDENTIFYING
from sdk.identifiers import find_identifiers, resident_id_valid

TEXT_CHECKS = ["pii_scan", "raw_overlap"]
NUMBER_CHECKS = ["raw_overlap"]
CHUNK = 4000  # candidates per check run: below the checks' per-column validation caps
JOINED_LENGTHS = frozenset({11, 15, 16, 17, 18, 19})  # mobiles, resident IDs, bank cards
MIN_JOINED = 6  # shorter raw identifiers are joined too often by chance to say anything
LONG_NUMBER = re.compile(r"(?<![\d.])(?:\d{15,}[Xx]?|1[3-9]\d{9})(?![\d.])")  # ID, card, mobile
_TOKENS = re.compile(r"[^\s,;:!?()\[\]{}<>\"'|/\\=]+")
_WORDS = re.compile(r"[0-9A-Za-z\u4e00-\u9fff]+")
_SQUEEZE = re.compile(r"[^0-9A-Za-z\u4e00-\u9fff@.]")

REASONS = {
    "identifier": Msg("含有个人或企业标识", "holds a personal or company identifier"),
    "id_like": Msg("含有形似证件号、卡号或手机号的数字", "holds a number shaped like an ID, card or mobile"),
    "name_or_address": Msg("可能含有姓名或地址", "may hold a name or an address"),
    "raw": Msg("与原始数据中的标识相同", "equals an identifier of the raw data"),
    "split": Msg("分段书写的证件号码", "a resident ID written in pieces"),
    "unchecked": Msg("无法完成检查", "could not be checked"),
}  # fmt: skip


@dataclass(frozen=True)
class Item:
    """One thing a job would show its tenant: ``ref`` names it to the tenant and the reviewer
    (never its content); ``number`` marks a metric value, whose text is its digits."""

    ref: str
    text: str
    number: bool = False


def reason(problems: set[str]) -> Msg:
    """One bilingual reason for a set of problem codes (see :data:`REASONS`)."""
    found = [REASONS[p] for p in REASONS if p in problems]
    return Msg("；".join(m.zh for m in found), "; ".join(m.en for m in found))


def numeric_lengths(text: pa.Array) -> set[int]:
    """The lengths of the all-digit values (a check letter allowed) among ``text``."""
    digits = pc.filter(text, pc.match_substring_regex(text, r"^[0-9]+X?$"))
    return {int(n) for n in pc.unique(pc.utf8_length(digits)).to_pylist() if n is not None}


def number_digits(value: float) -> str:
    """The significant digits of a number as a job wrote it: ``0.330106198`` → ``330106198``."""
    if isinstance(value, int):
        return str(abs(value))
    return repr(abs(value)).split("e")[0].replace(".", "").lstrip("0") or "0"


def candidates(text: str) -> list[str]:
    """The strings the checks see of one text item: its light and full folds, those of its other
    readings (reversed, decoded), and their tokens."""
    found = []
    backwards, *decoded = spelling.encodings(text)
    for reading in [text, *decoded]:
        lit, full = spelling.light(reading), spelling.fold(reading)
        found += [lit.strip(), full.strip()]
        for form in (lit, full):
            found += _TOKENS.findall(form) + _WORDS.findall(form)
        found += [_SQUEEZE.sub("", t) for t in _TOKENS.findall(full)]  # 浙A·12345 → 浙A12345
    # Read backwards, only what holds digits can be an identifier (words are not worth a scan).
    found += [t for t in _WORDS.findall(spelling.fold(backwards)) if any(c.isdigit() for c in t)]
    return [c for c in dict.fromkeys(found) if c]


def embedded_id(folded: str) -> bool:
    """Whether a run of digits of ``folded`` holds a checksum-valid resident ID anywhere inside
    (``00330106…`` hides one behind a pad the reader strips)."""
    for run in re.findall(r"[0-9]{18,}X?|[0-9]{17}X", folded):
        if any(resident_id_valid(run[i : i + 18]) for i in range(len(run) - 17)):
            return True
    return False


def own_problems(text: str) -> set[str]:
    """Checksum-verified identifiers in the folded text and its other readings, and ID-shaped
    numbers in the light one."""
    problems = set()
    for reading in [text, *spelling.encodings(text)]:
        lit, full = spelling.light(reading), spelling.fold(reading)
        if find_identifiers(full) or find_identifiers(lit) or embedded_id(full):
            problems.add("identifier")
        if LONG_NUMBER.search(lit):
            problems.add("id_like")
    return problems


class Gate:
    """Screens the items of one job against the checks of its scenario's raw data."""

    def __init__(self, context: Context):
        self.context = context
        self._lengths: frozenset[int] | None = None
        self._numbers = None

    @property
    def joined_lengths(self) -> frozenset[int]:
        """Lengths at which digits written in pieces are read as one value: those of mobiles,
        resident IDs and cards, and of the numeric identifiers the scenario's raw data holds (a
        nine-digit member code split over two lines is whole again at nine)."""
        if self._lengths is None:
            lengths = set(JOINED_LENGTHS)
            for source in self.context.raw:
                try:
                    table = rawmatch.raw_table(source)
                except (OSError, ValueError):  # the checks report it: everything is withheld
                    continue
                for name in source.identifiers:
                    if (column := table.columns.get(name)) is not None:
                        lengths |= numeric_lengths(column.text)
            self._lengths = frozenset(n for n in lengths if n >= MIN_JOINED)
        return self._lengths

    @property
    def raw_numbers(self):
        """The scenario's numeric raw identifiers, sorted (see :mod:`hub.production.pieces`)."""
        if self._numbers is None:
            try:
                self._numbers = known_numbers(tuple(self.context.raw))
            except (OSError, ValueError):  # the checks report the raw file: everything is held
                self._numbers = known_numbers(())
        return self._numbers

    def screen(self, items: Sequence[Item], joined: bool = True) -> dict[str, Msg]:
        """The refs of the ``items`` that may not be released, each with why. With ``joined``,
        the items are a sequence (log lines, a document's keys and values): identifiers written
        in pieces across consecutive items are found too."""
        problems: dict[int, set[str]] = {}

        def add(owners, found: set[str]) -> None:
            for i in owners:
                problems.setdefault(i, set()).update(found)

        texts, numbers, runs = [], [], []
        for i, item in enumerate(items):
            if item.number:
                numbers.append(((i,), [item.text]))
                runs.append((item.text, i))
                continue
            runs += [(run, i) for run in spelling.digit_runs(item.text)]
            own = own_problems(item.text)
            if own:  # withheld already: the export checks need not find it again
                add((i,), own)
                continue
            texts.append(((i,), candidates(item.text)))
        for owners, found in self._failing(texts, TEXT_CHECKS):
            add(owners, found)
        pieces = spelling.joined_runs(runs, self.joined_lengths) if joined else []
        for text, owners in pieces:
            if len(text) == 18 and resident_id_valid(text):
                add(owners, {"split"})
        groups = numbers + [(owners, [text]) for text, owners in pieces]
        for owners, found in self._failing(groups, NUMBER_CHECKS):
            add(owners, found)
        if joined:  # pieces far apart or out of order, chained back to a raw identifier
            for _, owners in spelled(runs, self.raw_numbers):
                add(owners, {"raw"})
        return {items[i].ref: reason(p) for i, p in sorted(problems.items())}

    def _failing(self, groups: list[tuple[tuple[int, ...], list[str]]], checks: list[str]):
        """``(owners, problems)`` of the groups whose candidates fail ``checks``."""
        chunk, size = [], 0
        for group in groups:
            if chunk and size + len(group[1]) > CHUNK:
                yield from self._bisect(chunk, checks)
                chunk, size = [], 0
            chunk.append(group)
            size += len(group[1])
        if chunk:
            yield from self._bisect(chunk, checks)

    def _bisect(self, groups, checks):
        """One run on all candidates together (the common case: a pass); on a failure, one run
        with each group in a column of its own, whose details name the failing columns."""
        values = [v for _, found in groups for v in found]
        whole = pd.DataFrame({"value": pd.Series(values, dtype=object)})
        if not problems_of(run_all(whole, self.context, checks)):
            return
        columns = {f"g{i}": pd.Series(found, dtype=object) for i, (_, found) in enumerate(groups)}
        per = problems_by_column(run_all(pd.DataFrame(columns), self.context, checks), len(groups))
        for i, found in sorted(per.items()):
            yield groups[i][0], found


def problems_by_column(findings: list[Finding], n: int) -> dict[int, set[str]]:
    """Problem codes per column ``g<i>`` of what the export checks found. A value found across
    neighbouring columns (labelled ``g3+g4``) holds each of them; a finding that names no column
    it can be traced to (a crash, a rare combination) holds every column (deny by default)."""
    out: dict[int, set[str]] = {}

    def add(label: str, code: str) -> None:
        parts = label.rstrip("↓↑").split("+")  # a join of columns, or a window down one
        if not all(p[:1] == "g" and p[1:].isdecimal() and int(p[1:]) < n for p in parts):
            parts = [f"g{i}" for i in range(n)]
        for part in parts:
            out.setdefault(int(part[1:]), set()).add(code)

    for f in findings:
        if f.verdict == PASS:
            continue
        if f.name == "pii_scan" and f.details.get("columns"):
            for column, entities in f.details["columns"].items():
                add(column, "identifier" if set(entities) & IDENTIFYING else "name_or_address")
        elif f.name == "raw_overlap" and f.details.get("sources"):
            for source in f.details["sources"].values():
                for column in source.get("identifier_cells") or {}:
                    add(column, "raw")
                if source.get("rare_quasi_rows"):
                    for i in range(n):
                        add(f"g{i}", "raw")
        else:
            for i in range(n):
                add(f"g{i}", "unchecked")
    return out


def problems_of(findings: list[Finding]) -> set[str]:
    """Problem codes of what the export checks found; anything but a pass is a problem."""
    out = set()
    for f in findings:
        if f.verdict == PASS:
            continue
        if f.name == "raw_overlap" and f.verdict == FAIL and f.details.get("sources"):
            out.add("raw")
        elif f.name == "pii_scan" and f.details.get("columns"):
            out.add("identifier" if f.verdict == FAIL else "name_or_address")
        else:
            out.add("unchecked")
    return out
