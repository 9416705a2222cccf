"""What a node process holds in memory, and whether another side's raw values are in it.

:func:`dump_memory` runs inside the node process (after its computation) and copies what the
process still holds; :func:`scan` runs in the test and searches the copy for raw values in every
shape they could take there (any spelling of a key, UTF-8 or UTF-16; an amount as text or as a
float64). The dumping process never learns what will be searched for.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from privacy.compute.keys import normalise

CHUNK = 1 << 16
ZERO = bytes(CHUNK)


def dump_memory(target: Path) -> int:
    """Copy this process's readable anonymous, heap, stack and writable mappings to ``target``."""
    written = 0
    with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as mem:
        regions = maps.read().splitlines()
        with open(target, "wb") as out:
            for line in regions:
                fields = line.split(maxsplit=5)
                span, perms = fields[0], fields[1]
                path = fields[5] if len(fields) > 5 else ""
                if "r" not in perms or path in ("[vvar]", "[vsyscall]", "[vdso]"):
                    continue
                if path and not path.startswith("[") and "w" not in perms:
                    continue  # read-only file mappings: library code and constants
                start, end = (int(x, 16) for x in span.split("-"))
                offset = start
                while offset < end:
                    size = min(CHUNK, end - offset)
                    try:
                        mem.seek(offset)
                        data = mem.read(size)
                    except (OSError, OverflowError, ValueError):
                        break
                    if data and data != ZERO[: len(data)]:
                        out.write(data)
                        written += len(data)
                    offset += size
    return written


DIGIT_OR_SPACE = np.zeros(256, dtype=bool)
DIGIT_OR_SPACE[list(b"0123456789 -")] = True
DIGIT_OR_SPACE[0] = True  # UTF-16 high bytes


def candidates(buf: np.ndarray, anchors: np.ndarray, before: int, after: int) -> list[bytes]:
    """Byte windows around ``anchors`` whose neighbours look like digits (vectorised filter)."""
    anchors = anchors[(anchors >= before) & (anchors + after < len(buf))]
    ok = DIGIT_OR_SPACE[buf[anchors + 1]] & DIGIT_OR_SPACE[buf[anchors + 2]]
    return [bytes(buf[a - before : a + after]) for a in anchors[ok]]


def scan(dump: Path, keys: list[str], values) -> list[str]:
    """Every key (any spelling, UTF-8 or UTF-16) and value (text or float64) found in ``dump``.

    One vectorised pass per shape instead of one per needle: every "7" after a key's first
    letter and every "." between digits is a candidate, normalised and looked up; float64 words
    are prefiltered by their top 16 bits at all eight byte offsets, then compared exactly.
    """
    data = dump.read_bytes()
    assert len(data) > 1_000_000  # a real dump, not an empty file
    buf = np.frombuffer(data, dtype=np.uint8)
    wanted = {normalise(k) for k in keys}
    found = set()
    sevens = np.flatnonzero(buf == ord("7")) if wanted else np.zeros(0, dtype=np.int64)
    for window in candidates(buf, sevens, 3, 22):
        for text in (window.decode("utf-8", "replace"), window[1:].decode("utf-16-le", "replace")):
            flat = normalise(text).replace("\x00", "").replace("\ufffd", "")
            found |= {k for k in wanted if k in flat}
    numbers = np.asarray(values, dtype=np.float64)
    texts = {f"{v:.4f}" for v in numbers}
    dots = np.flatnonzero(buf == ord("."))
    dots = dots[(dots > 8) & (dots + 6 < len(buf))]
    digit = np.zeros(256, dtype=bool)
    digit[list(b"0123456789")] = True
    dots = dots[digit[buf[dots - 1]] & digit[buf[dots + 1]] & digit[buf[dots + 4]]]
    for d in dots.tolist():
        window = data[d - 8 : d + 5].decode("latin-1")
        whole = re.findall(r"[0-9]+$", window[:8])
        if whole and f"{int(whole[0])}.{window[9:13]}" in texts:
            found.add(f"{whole[0]}.{window[9:13]}")
    words = set(numbers.view(np.uint64).tolist())
    if words:
        table = np.zeros(1 << 16, dtype=bool)
        table[numbers.view(np.uint64) >> np.uint64(48)] = True
        for offset in range(8):
            usable = (len(data) - offset) // 8
            arr = np.frombuffer(data, dtype=np.uint64, count=usable, offset=offset)
            hits = np.flatnonzero(table[arr >> np.uint64(48)])
            found |= {f"float64:{w}" for w in arr[hits].tolist() if w in words}
    return sorted(found)


def _overlapping(pattern: re.Pattern, data: bytes):
    """Every match of ``pattern`` in ``data``, overlapping ones too (a key inside another's
    bytes is still found): after each match the search goes on one byte later."""
    at = 0
    while (m := pattern.search(data, at)) is not None:
        yield m
        at = m.start() + 1


def found_in(data: bytes, needles: list[bytes]) -> set[bytes]:
    """The ``needles`` that occur in ``data``: one pass for all of them, however many (a search
    per needle reads a capture of hundreds of megabytes once per needle)."""
    wanted = sorted({n for n in needles if n}, key=len, reverse=True)
    if not wanted:
        return set()
    pattern = re.compile(b"|".join(re.escape(n) for n in wanted))
    return {m.group() for m in _overlapping(pattern, data)}


def find_keys(dump: Path, keys: list[str]) -> list[str]:
    """Every key found verbatim in ``dump``, UTF-8 or UTF-16-LE (any key shape; exact bytes).

    One pass of a regular expression of every key in both encodings (its literal prefixes
    make the search run at memchr speed); for keys a node keeps in their normalised spelling
    (identifiers, USCCs), pass that spelling too.
    """
    data = dump.read_bytes()
    assert len(data) > 1_000_000  # a real dump, not an empty file
    shaped = {k: (k.encode(), k.encode("utf-16-le")) for k in set(keys) if k}
    by_bytes = {raw: k for k, both in shaped.items() for raw in both}
    return sorted({by_bytes[raw] for raw in found_in(data, list(by_bytes))})
