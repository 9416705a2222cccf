"""Raw identifiers a job spells in pieces that are not next to each other.

The release gate joins the digit runs of consecutive items (:func:`hub.production.spelling.
joined_runs`); a job can put other numbers between the pieces (``head 330106198``, ``epoch 3 loss
0.12``, ``tail 805051232``) or write them in another order. Here every digit run of what the job
would release is a piece, and two or three pieces are chained in any order, each step kept only
while the chain is still the start of one of the scenario's long raw identifiers (resident IDs,
cards; a sorted array, searched in bulk): a chain that reaches a whole raw identifier names the
items its pieces came from. Only long raw values count, so the numbers of an ordinary log,
chained by chance, match nothing (a thousand distinct numbers make 10^9 chains of three; a
million raw IDs of 18 digits are met by one of them with odds of 1 in 1,000).
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

from hub.review.checks import RawSource

MIN_PIECE = 3  # digits: shorter runs are in every log (a step, an epoch) and say too little
MIN_LENGTH = 15  # identifiers chained: resident IDs, cards (a mobile's 11 digits, with a million
# raw ones, are spelled by two chance numbers of a long log)
MAX_STEPS = 3  # pieces in one chain: with more, the numbers of a log meet a raw ID by chance
MAX_PIECES = 4000  # distinct runs chained
MAX_FRONTIER = 20_000  # chains carried from one step to the next


def numeric_identifiers(values: list[str]) -> np.ndarray:
    """The digit-only identifiers of :data:`MIN_LENGTH` or more among ``values`` (a final X
    allowed), sorted for searching."""
    found = {
        v for v in values
        if len(v) >= MIN_LENGTH and v[:-1].isdigit() and (v[-1].isdigit() or v[-1] == "X")
    }  # fmt: skip
    return np.array(sorted(found), dtype=str)


@lru_cache(maxsize=8)
def _known(path: str, mtime: int, identifiers: tuple[str, ...]) -> np.ndarray:
    from hub.review.checks.overlap import known_of

    source = RawSource("", path, identifiers, ())
    return numeric_identifiers(known_of(source).values.to_pylist())


def known_numbers(sources: tuple[RawSource, ...]) -> np.ndarray:
    """The numeric raw identifiers of ``sources``, sorted (computed once per file version)."""
    parts = [
        _known(s.path, os.stat(s.path).st_mtime_ns, tuple(s.identifiers))
        for s in sources
        if s.identifiers
    ]
    return np.unique(np.concatenate(parts)) if parts else np.array([], dtype=str)


def _starts(known: np.ndarray, chains: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each chain: whether some known identifier starts with it, and whether one equals it."""
    at = np.searchsorted(known, chains)
    inside = at < len(known)
    nearest = np.where(inside, known[np.minimum(at, len(known) - 1)], "")
    return inside & np.char.startswith(nearest, chains), inside & (nearest == chains)


def spelled(runs: list[tuple[str, int]], known: np.ndarray) -> list[tuple[str, tuple[int, ...]]]:
    """Raw identifiers (``known``, sorted) spelled by two or more of the digit ``runs`` (each
    with the item it came from) in any order, with the items of the pieces used."""
    if not len(known):
        return []
    owners: dict[str, set[int]] = {}
    for text, owner in runs:
        if len(text) >= MIN_PIECE:
            owners.setdefault(text, set()).add(owner)
    if len(owners) < 2:
        return []
    names = np.array(list(owners)[:MAX_PIECES], dtype=str)
    longest = int(np.char.str_len(known).max())
    frontier: list[tuple[str, tuple[int, ...]]] = [("", ())]
    found = []
    for _ in range(MAX_STEPS):
        prefixes = np.array([f for f, _ in frontier], dtype=str)
        chains = np.char.add(np.repeat(prefixes, len(names)), np.tile(names, len(prefixes)))
        starts, whole = _starts(known, chains)
        following = []
        for i in np.flatnonzero(starts).tolist():
            path = (*frontier[i // len(names)][1], i % len(names))
            if whole[i] and len(path) >= 2:
                found.append((str(chains[i]), path))
            elif len(chains[i]) < longest:
                following.append((str(chains[i]), path))
        if not following:
            break
        frontier = following[:MAX_FRONTIER]
    return [
        (text, tuple(sorted({o for k in path for o in owners[str(names[k])]})))
        for text, path in found
    ]
