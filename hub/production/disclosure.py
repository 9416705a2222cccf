"""What of a finished job reaches its tenant, and what is withheld for a reviewer.

Everything a job shows — its log, its metrics (keys, strings and numbers), its output names —
passes the release gate (:mod:`hub.production.gate`: the export checks after folding spellings)
first. What fails is withheld: a log line is replaced by a notice, a metric by ``None`` under a
platform key, an output by a platform name (``output-3.parquet``); the tenant sees where and why,
the reviewer sees what, and may release it (:func:`release_held`). Small counts, integral floats
included, are suppressed; numbers shaped like identifiers are withheld. Models and result tables
stay in the domain store and leave only through a reviewed request.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from hub.i18n import Msg
from hub.production.gate import LONG_NUMBER, Gate, Item, number_digits
from sdk.identifiers import find_identifiers

MAX_LOG = 256 << 10  # the tail of the log the tenant sees, in bytes
MAX_METRICS = 1 << 20
MAX_DEPTH = 4
CHUNK_LINES = 40  # lines the PII detectors read at once
ID_SHAPED = 10**10  # integral metric values this large (11+ digits) are shaped like identifiers
PLATFORM_NAME = re.compile(r"output-\d+(\.[a-z0-9]+)?")
SUFFIXES = {".parquet", ".json", ".csv", ".txt", ".onnx", ".png", ".svg", ".html", ".md", ".log",
            ".pkl", ".joblib", ".npy", ".npz", ".xlsx", ".pt", ".bin"}  # fmt: skip
ID_LIKE = Msg("数值形似证件号、卡号或手机号", "a number shaped like an ID, card or mobile")


@dataclass
class Release:
    """What a job releases (``shown``), and what it holds back for a reviewer (``held``: each
    with its ``ref``, what it is, the original, and the reason)."""

    shown: object
    held: list[dict] = field(default_factory=list)
    extra: dict = field(default_factory=dict)


def held_entry(ref: str, what: str, original: object, reason: Msg) -> dict:
    return {"ref": ref, "what": what, "original": original, "reason_zh": reason.zh,
            "reason_en": reason.en}  # fmt: skip


def withheld_view(held: list[dict]) -> list[dict]:
    """What the tenant sees of the held items: where and why, never what."""
    return [{k: h[k] for k in ("ref", "what", "reason_zh", "reason_en")} for h in held]


def notice(ref: str, reason: Msg) -> str:
    return (
        f"[{ref} 已暂扣，待审核员放行：{reason.zh} / "
        f"{ref} withheld until a reviewer releases it: {reason.en}]\n"
    )


def _mask_plain(text: str) -> tuple[str, Counter]:
    """Identifiers written plainly are masked in place (the line itself may then be released)."""
    from hub.masking.detectors import mask_text, scan_text

    counts: Counter[str] = Counter()
    for kind, value in find_identifiers(text):  # checksum-verified: replace every occurrence
        counts[kind] += text.count(value)
        text = text.replace(value, f"<{kind.upper()}>")
    text, n = LONG_NUMBER.subn("<ID_LIKE>", text)  # mistyped ID numbers still identify
    if n:
        counts["id_like"] += n
    lines = text.splitlines(keepends=True)
    out = []
    for i in range(0, len(lines), CHUNK_LINES):
        chunk = "".join(lines[i : i + CHUNK_LINES])
        found = scan_text(chunk)
        counts.update(f.entity.lower() for f in found)
        out.append(mask_text(chunk) if found else chunk)
    return "".join(out), counts


def release_log(raw: bytes, gate: Gate) -> Release:
    """The tail of a job's log: plainly written identifiers masked, then every line the gate
    flags (odd spellings, pieces across lines) withheld. ``extra["masked"]``: counts per kind."""
    cut = len(raw) > MAX_LOG
    masked, counts = _mask_plain(raw[-MAX_LOG:].decode("utf-8", "replace"))
    lines = masked.splitlines(keepends=True)
    flagged = gate.screen([Item(f"log:{i + 1}", line) for i, line in enumerate(lines)])
    out, held = [], []
    for i, line in enumerate(lines):
        ref = f"log:{i + 1}"
        if ref in flagged:
            held.append(held_entry(ref, "log", line, flagged[ref]))
            out.append(notice(ref, flagged[ref]))
        else:
            out.append(line)
    released = "".join(out)
    if cut:
        released = (
            f"[… 日志前部已截断 / the start of the log is cut: {len(raw) - MAX_LOG} bytes]\n"
            + released
        )
    return Release(released, held, {"masked": dict(counts)})


def restore_log(shown: str, held: list[dict]) -> str:
    """The released log with the notices of ``held`` lines replaced by the lines."""
    for h in held:
        if h["what"] == "log":
            reason = Msg(h["reason_zh"], h["reason_en"])
            shown = shown.replace(notice(h["ref"], reason), h["original"], 1)
    return shown


def _tree(value, depth: int, items: list[Item]):
    """The metrics as nodes, each key, string and number registered as an item."""

    def item(text: str, number: bool = False) -> int:
        items.append(Item(str(len(items)), text, number))
        return len(items) - 1

    if depth > MAX_DEPTH:
        return ("deep",)
    if isinstance(value, bool) or value is None:
        return ("const", value)
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return ("const", None)
        return ("num", item(number_digits(value), True), value)
    if isinstance(value, str):
        return ("str", item(value), value)
    if isinstance(value, list):
        return ("list", [_tree(v, depth + 1, items) for v in value[:1000]])
    if isinstance(value, dict):
        return ("dict", [(item(str(k)), str(k), _tree(v, depth + 1, items))
                         for k, v in value.items()])  # fmt: skip
    return ("const", None)


def release_metrics(raw: bytes, min_count: int, gate: Gate | None) -> Release:
    """Metrics (a JSON object) as released: keys, strings and numbers through the gate, counts in
    (0, ``min_count``) suppressed (``None``, integral floats too), numbers shaped like identifiers
    withheld. ``extra["suppressed"]``: the suppressed paths, in released keys. With no ``gate``
    (a reviewer released what was held) only the suppression applies. Invalid metrics raise
    ValueError."""
    if len(raw) > MAX_METRICS:
        raise ValueError("metrics.json is over 1 MB")
    data = json.loads(raw.decode("utf-8"))
    if not isinstance(data, dict):
        raise ValueError("metrics.json must hold a JSON object")
    items: list[Item] = []
    tree = _tree(data, 0, items)
    flagged = gate.screen(items) if gate else {}
    suppressed: list[str] = []
    held: list[dict] = []
    keys_held = [0]

    def hold(path: str, original, reason: Msg) -> None:
        held.append(held_entry(f"metric:{path}", "metric", original, reason))

    def render(node, path: str, original):
        kind = node[0]
        if kind == "deep":
            suppressed.append(path)
            return None
        if kind == "const":
            return node[1]
        if kind in ("num", "str") and str(node[1]) in flagged:
            hold(path, original, flagged[str(node[1])])
            return None
        if kind == "num":
            value = node[2]
            integral = isinstance(value, int) or value.is_integer()
            if integral and abs(value) >= ID_SHAPED and gate:
                hold(path, original, ID_LIKE)
                return None
            if integral and 0 < abs(value) < min_count:  # a count, however it is typed
                suppressed.append(path)
                return None
            return value
        if kind == "str":
            return node[2]
        if kind == "list":
            return [render(n, f"{path}[{i}]", original[i]) for i, n in enumerate(node[1])]
        out = {}
        for key_item, key, child in node[1]:
            if str(key_item) in flagged:
                keys_held[0] += 1
                shown = f"<withheld-{keys_held[0]}>"
                hold(f"{path}.{shown}", {key: original[key]}, flagged[str(key_item)])
                out[shown] = None
                continue
            shown = key[:200]
            out[shown] = render(child, f"{path}.{shown}", original[key])
        return out

    shown = render(tree, "$", data)
    return Release(shown, held, {"suppressed": suppressed})


def about(size: int) -> int:
    """A size to two significant digits, anything under 1,000 bytes as 1,000: enough to read,
    too coarse for a row of small files to spell a number in their sizes."""
    if size <= 0:
        return 0
    if size < 1000:
        return 1000
    scale = 10 ** (len(str(size)) - 2)
    return round(size / scale) * scale


def release_outputs(found: list[dict], gate: Gate | None) -> Release:
    """The listing of a job's outputs as its tenant sees it: each name the gate passes (or every
    name, with no ``gate``: a reviewer released them) is kept, any other becomes the platform's
    (``output-<n><suffix>``); sizes are rounded. ``found`` gets each file's ``released_as``."""
    items = [Item(f"output:{i + 1}", f["name"]) for i, f in enumerate(found)]
    flagged = gate.screen(items) if gate else {}
    shown, held = [], []
    for i, f in enumerate(found):
        ref = f"output:{i + 1}"
        name = f["name"]
        if ref in flagged or PLATFORM_NAME.fullmatch(name):
            suffix = PurePosixPath(name).suffix.lower()
            name = f"output-{i + 1}{suffix if suffix in SUFFIXES else ''}"
            if ref in flagged:
                held.append(
                    held_entry(ref, "output", {"name": f["name"], "as": name}, flagged[ref])
                )
        f["released_as"] = name
        shown.append({"name": name, "bytes": about(f["bytes"]), "sha256": f["sha256"]})
    return Release(shown, held)
