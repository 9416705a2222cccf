"""Masking throughput: Shuyu's column-wise masking against presidio cell by cell, same data.

    .venv/bin/python -m benchmarks.masking_throughput [--rows 200000] [--baseline-rows N]

Six structured PII columns (resident IDs, mobiles, bank cards, unified social credit codes,
licence plates, e-mails) of ``--rows`` rows each — 1.2M cells by default — written the ways
people write them: spaces and dashes inside numbers, full-width digits, +86 prefixes, lower-case
x, 15-digit legacy IDs. Nearly every value is distinct, so no per-unique shortcut flatters us.

- **Shuyu**: per column, detect the entity on a sample (:func:`detect_column`), then run the
  suggested operator over the whole column (:mod:`hub.masking.operators`).
- **presidio per cell**: ``AnalyzerEngine.analyze()`` + ``AnonymizerEngine.anonymize()`` on every
  cell (:func:`hub.masking.detectors.mask_text`, the same Chinese recognizers).

Recall, for both: the share of cells whose raw identifier (separators dropped, full-width folded,
upper-cased) no longer appears in the output cell.

Then the served-cell scrub on a department's export (:mod:`hub.demo.exports`: Chinese headers,
adversarial shapes, a remarks column): cells per second of the scrub alone
(:func:`hub.masking.scan.scrub_text` on every text column, no policy), recall per entity × shape
of that scrub, and the whole sample path (registration's policies, operators, scrub) with the
planted values it served — which must be none.
"""

from __future__ import annotations

import argparse
import re
import time

import numpy as np
import pandas as pd

from hub.demo import pools
from hub.demo.pools import cat
from hub.masking import operators
from hub.masking.detectors import detect_column, mask_text, suggest_policy
from hub.masking.operators import MaskContext
from hub.masking.recognizers import normalize

SEED = 11
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
STR = np.dtypes.StringDType()


def _vary(values: np.ndarray, forms: list, rng: np.random.Generator) -> np.ndarray:
    """Rewrite each value in one of ``forms`` (functions of an array), chosen at random."""
    which = rng.integers(0, len(forms), len(values))
    out = values.astype(object)
    for i, form in enumerate(forms):
        pick = which == i
        if pick.any():
            out[pick] = np.asarray(form(values[pick].astype(STR)), dtype=object)
    return out


def _split(parts: tuple[int, ...], sep: str):
    def form(v: np.ndarray) -> np.ndarray:
        s, pieces, pos = np.strings.slice, [], 0
        for size in parts:
            pieces += [s(v, pos, pos + size), sep]
            pos += size
        return cat(*pieces, s(v, pos, None))

    return form


def _full_width(v: np.ndarray) -> np.ndarray:
    return np.array([x.translate(FULL_WIDTH) for x in v.tolist()], dtype=STR)


def _bank_cards(rng: np.random.Generator, n: int) -> np.ndarray:
    bins = np.array([622202, 622848, 621700, 622588, 623668, 621226])
    digits = rng.integers(0, 10, (n, 18))
    digits[:, :6] = np.array([list(map(int, str(b))) for b in bins])[rng.integers(0, 6, n)]
    # Luhn: double every second digit from the right of the body (the check digit goes last)
    doubled = digits.copy()
    doubled[:, ::-2] *= 2
    doubled = np.where(doubled > 9, doubled - 9, doubled)
    check = (10 - doubled.sum(axis=1) % 10) % 10
    return np.array(
        ["".join(map(str, row)) + str(c) for row, c in zip(digits, check, strict=True)], dtype=STR
    )


def columns(n: int) -> pd.DataFrame:
    """The six PII columns, ``n`` rows each."""
    rng = np.random.default_rng(SEED)
    people = pools.population(n, SEED)
    ids = people.resident_id.astype(STR)
    legacy = cat(np.strings.slice(ids, 0, 6), np.strings.slice(ids, 8, 17))
    mobiles = pools.mobiles(rng, n).astype(STR)
    cards = _bank_cards(rng, n)
    usccs = pools.enterprises(n, SEED).uscc.astype(STR)
    plates = pools.plates(rng, n).astype(STR)
    users = cat("user", np.char.zfill(rng.integers(0, 10**8, n).astype(str), 8).astype(STR))
    domains = np.array(["qq.com", "163.com", "126.com", "example.cn", "zju.edu.cn"], dtype=STR)
    emails = cat(users, "@", domains[rng.integers(0, len(domains), n)])
    frame = {
        "resident_id": _vary(ids, [lambda v: v, _split((6, 8), " "), _split((6, 8), "-"),
                                   _full_width], rng),
        "mobile": _vary(mobiles, [lambda v: v, lambda v: cat("+86 ", v), _split((3, 4), "-"),
                                  _split((3, 4), " "), _full_width], rng),
        "bank_card": _vary(cards, [lambda v: v, _split((4, 4, 4, 4), " "),
                                   _split((4, 4, 4, 4), "-"), _full_width], rng),
        "uscc": _vary(usccs, [lambda v: v, np.strings.lower], rng),
        "plate": plates.astype(object),
        "email": emails.astype(object),
    }  # fmt: skip
    # 1 in 10 resident IDs is a legacy 15-digit one (people born in the 1900s)
    legacy_pick = rng.random(n) < 0.1
    frame["resident_id"][legacy_pick] = legacy[legacy_pick].astype(object)
    return pd.DataFrame(frame)


_SEPARATORS = re.compile(r"[\s\-·+]")


def _canon(value: str) -> str:
    return _SEPARATORS.sub("", normalize(str(value))).upper()


def recall(raw: pd.DataFrame, masked: pd.DataFrame) -> dict[str, float]:
    """Per column, the share of cells whose raw identifier is gone from the output cell."""
    out = {}
    for column in raw.columns:
        pairs = zip(raw[column].tolist(), masked[column].tolist(), strict=True)
        hidden = sum(_canon(r).removeprefix("86") not in _canon(m) for r, m in pairs)
        out[column] = hidden / len(raw)
    return out


def shuyu(raw: pd.DataFrame) -> tuple[pd.DataFrame, float, dict[str, str]]:
    ctx = MaskContext(key=b"benchmark masking key")
    start = time.perf_counter()
    out, chosen = {}, {}
    for column in raw.columns:
        found = detect_column(raw[column])
        operator, params = suggest_policy(found.entity) if found else ("drop", {})
        chosen[column] = f"{found.entity if found else '?'} → {operator}"
        result = operators.apply(operator, raw[column], ctx, **params)
        out[column] = result if result is not None else pd.Series([""] * len(raw))
    return pd.DataFrame(out), time.perf_counter() - start, chosen


def presidio_per_cell(raw: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    mask_text("预热 13800000000")  # build the engines outside the timing
    start = time.perf_counter()
    out = {column: [mask_text(v) for v in raw[column].tolist()] for column in raw.columns}
    return pd.DataFrame(out), time.perf_counter() - start


def corpus(rows: int) -> None:
    """The scrub and the sample path on ``rows`` rows of a department's export."""
    import pyarrow as pa

    from hub.demo.exports import HEADERS, export, recall, served_raw
    from hub.masking.sample import SampleLimits, build_sample, sample_rows
    from hub.masking.scan import mask, scrub_text
    from hub.ops.catalog import suggest_masks

    frame, planted = export(rows, seed=SEED)
    text = [c for c in frame.columns if pd.api.types.is_string_dtype(frame[c].dtype)]
    start = time.perf_counter()
    for column in text:
        scrub_text(frame[column])
    seconds = time.perf_counter() - start
    cells = rows * len(text)
    print(f"\nexport corpus: {rows:,} rows, {len(planted):,} planted values")
    print(f"scrub alone: {cells:,} text cells in {seconds:.2f} s = {cells / seconds:,.0f} cells/s")
    table = recall(frame, planted, mask)
    print(f"{'entity':<18}{'shape':<28}{'found':>7}{'of':>7}{'recall':>8}")
    for (entity, shape), (hit, n) in table.items():
        print(f"{entity:<18}{shape:<28}{hit:>7}{n:>7}{hit / n:>8.3f}")
    found, total = sum(h for h, _ in table.values()), sum(n for _, n in table.values())
    print(f"{'all (scrub alone)':<46}{found:>7}{total:>7}{found / total:>8.4f}")
    # Precision on clean text: cells that hold no planted value (remarks with no one in them,
    # dates, business types, amounts written out) must come back as they are.
    dirty = {(p.row, p.column) for p in planted}
    identifying = set(HEADERS.values()) - {HEADERS["notes"], HEADERS["log"]}
    clean = [
        v for c in text if c not in identifying for r, v in frame[c].items() if (r, c) not in dirty
    ]
    kept = sum(mask(v) == v for v in clean)
    print(
        f"clean text cells served unchanged: {kept:,} of {len(clean):,} = {kept / len(clean):.4f}"
    )
    schema = [{"name": n, "type": "string"} for n in frame.columns]
    start = time.perf_counter()
    suggest_masks(pa.Table.from_pandas(frame, preserve_index=False), schema, 2)
    registered = time.perf_counter() - start
    limits = SampleLimits(max_rows=rows, max_fraction=1.0, k=1)
    start = time.perf_counter()
    served = build_sample(
        frame, schema, list(frame.columns), tenant="t", scenario="s", dataset="export",
        ctx=MaskContext(key=b"benchmark masking key"), limits=limits,
    ).frame  # fmt: skip
    built = time.perf_counter() - start
    leaked = served_raw(served, planted, sample_rows(rows, "t", "s", "export", limits))
    print(
        f"registration {registered:.2f} s; sample path {frame.size:,} cells in {built:.2f} s "
        f"= {frame.size / built:,.0f} cells/s; planted values served: {len(leaked)}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--corpus-rows", type=int, default=5_000)
    parser.add_argument(
        "--baseline-rows",
        type=int,
        default=None,
        help="run presidio on the first N rows only (default: all, i.e. the same data)",
    )
    args = parser.parse_args(argv)
    raw = columns(args.rows)
    cells = raw.size
    masked, seconds, chosen = shuyu(raw)
    ours = recall(raw, masked)
    base_raw = raw.head(args.baseline_rows) if args.baseline_rows else raw
    base_masked, base_seconds = presidio_per_cell(base_raw)
    theirs = recall(base_raw, base_masked)
    print(f"{cells:,} cells ({len(raw.columns)} columns × {len(raw):,} rows)")
    print(f"{'':<14}{'Shuyu columns':>16}{'presidio per cell':>20}")
    print(f"{'cells':<14}{cells:>16,}{base_raw.size:>20,}")
    print(f"{'seconds':<14}{seconds:>16.2f}{base_seconds:>20.2f}")
    ours_rate, theirs_rate = cells / seconds, base_raw.size / base_seconds
    print(f"{'cells/s':<14}{ours_rate:>16,.0f}{theirs_rate:>20,.0f}")
    print(f"speed-up: {ours_rate / theirs_rate:,.0f}×")
    print("recall per column (share of cells whose raw identifier is gone):")
    for column in raw.columns:
        print(f"  {column:<12}{ours[column]:>8.4f}{theirs[column]:>10.4f}   {chosen[column]}")
    print(
        f"  {'all':<12}{sum(ours.values()) / len(ours):>8.4f}"
        f"{sum(theirs.values()) / len(theirs):>10.4f}"
    )
    corpus(args.corpus_rows)


if __name__ == "__main__":
    main()
