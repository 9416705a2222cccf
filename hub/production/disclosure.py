"""What of a finished job reaches its tenant: the log with personal data masked, the metrics with
small counts suppressed. Everything else (models, result tables) stays in the domain store and
leaves only through a reviewed request."""

from __future__ import annotations

import json
import math
import re
from collections import Counter

from sdk.identifiers import find_identifiers

MAX_LOG = 256 << 10  # the tail of the log the tenant sees, in bytes
MAX_METRICS = 1 << 20
MAX_DEPTH = 4
CHUNK_LINES = 40  # lines the PII detectors read at once
LONG_NUMBER = re.compile(r"(?<![\d.])(?:\d{15,19}[Xx]?|1[3-9]\d{9})(?![\d.])")  # ID, card, mobile


def release_log(raw: bytes) -> tuple[str, dict[str, int]]:
    """The tail of a job's log with every identifier and detected personal datum masked, and the
    number masked per kind."""
    from hub.masking.detectors import mask_text, scan_text

    cut = len(raw) > MAX_LOG
    text = raw[-MAX_LOG:].decode("utf-8", "replace")
    counts: Counter[str] = Counter()
    for kind, value in find_identifiers(text):  # checksum-verified: replace every occurrence
        counts[kind] += text.count(value)
        text = text.replace(value, f"<{kind.upper()}>")
    # Then anything shaped like one, checksum or not: a mistyped ID number still identifies.
    text, n = LONG_NUMBER.subn("<ID_LIKE>", text)
    if n:
        counts["id_like"] += n
    lines = text.splitlines(keepends=True)
    out = []
    for i in range(0, len(lines), CHUNK_LINES):
        chunk = "".join(lines[i : i + CHUNK_LINES])
        found = scan_text(chunk)
        counts.update(f.entity.lower() for f in found)
        out.append(mask_text(chunk) if found else chunk)
    released = "".join(out)
    if cut:
        released = (
            f"[… 日志前部已截断 / the start of the log is cut: {len(raw) - MAX_LOG} bytes]\n"
            + released
        )
    return released, dict(counts)


def release_metrics(raw: bytes, min_count: int) -> tuple[dict, list[str]]:
    """Metrics (a JSON object) with every count in (0, ``min_count``) suppressed (set to None) and
    strings masked; returns them and the paths suppressed. Invalid metrics raise ValueError."""
    if len(raw) > MAX_METRICS:
        raise ValueError("metrics.json is over 1 MB")
    data = json.loads(raw.decode("utf-8"))
    if not isinstance(data, dict):
        raise ValueError("metrics.json must hold a JSON object")
    suppressed: list[str] = []

    def walk(value, path: str, depth: int):
        if depth > MAX_DEPTH:
            suppressed.append(path)
            return None
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, int):
            if 0 < abs(value) < min_count:
                suppressed.append(path)
                return None
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else None
        if isinstance(value, str):
            return _mask(value)
        if isinstance(value, list):
            return [walk(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value[:1000])]
        if isinstance(value, dict):
            return {
                _mask(str(k))[:200]: walk(v, f"{path}.{k}", depth + 1) for k, v in value.items()
            }
        return None

    return walk(data, "$", 0), suppressed


def _mask(text: str) -> str:
    from hub.masking.detectors import mask_text

    for kind, value in find_identifiers(text):
        text = text.replace(value, f"<{kind.upper()}>")
    return mask_text(text)
