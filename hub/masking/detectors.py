"""Model-free detection of Chinese personal data in free text and in table columns.

Free text goes through a presidio :class:`~presidio_analyzer.AnalyzerEngine` that holds only the
recognizers of :mod:`hub.masking.recognizers` and a no-op NLP engine, so no spaCy model is
needed: :func:`scan_text` lists findings and :func:`mask_text` replaces them with ``<ENTITY>``.

Structured columns never go through presidio cell by cell: :func:`detect_column` runs each
entity's whole-value regex over a sample with pandas, checks the checksum only on the matching
unique values, and names the entity most of the column holds. :func:`suggest_policy` maps an
entity to a default masking operator of :mod:`hub.masking.operators`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache

import pandas as pd
from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerRegistry, RecognizerResult
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts, NoOpNlpEngine
from presidio_anonymizer import AnonymizerEngine

from hub.masking.normal import compact_series, squeeze_series
from hub.masking.recognizers import RECOGNIZERS, CnRecognizer, normalize

LANGUAGE = "zh"
ENTITIES: tuple[str, ...] = tuple(r.ENTITY for r in RECOGNIZERS)
_PRIORITY = {e: i for i, e in enumerate(ENTITIES)}

_POLICIES: dict[str, tuple[str, dict[str, object]]] = {
    "CN_RESIDENT_ID": ("pseudonym", {}),
    "CN_MOBILE": ("mask", {"keep_prefix": 3, "keep_suffix": 4}),
    # The area code (a city) may stay; the local number, which reaches a household, may not.
    "CN_LANDLINE": ("mask", {"keep_prefix": 4, "keep_suffix": 0}),
    # The surname stays, the given name is starred: a Faker surrogate may be someone's real
    # name (even another row's), which no one reading the sample can tell from a leak.
    "CN_NAME": ("mask", {"keep_prefix": 1, "keep_suffix": 0}),
    "CN_ADDRESS": ("generalize", {"kind": "district"}),
    "CN_BANK_CARD": ("mask", {"keep_prefix": 0, "keep_suffix": 4}),
    "CN_USCC": ("pseudonym", {}),
    "CN_LICENSE_PLATE": ("mask", {"keep_prefix": 2, "keep_suffix": 0}),
    "EMAIL_ADDRESS": ("surrogate", {"kind": "email"}),
}


@dataclass(frozen=True)
class Finding:
    """One detected value: entity name, character offsets, confidence and the original text."""

    entity: str
    start: int
    end: int
    score: float
    text: str


@dataclass(frozen=True)
class ColumnFinding:
    """The entity a column holds and the share of sampled non-null values that match it."""

    entity: str
    ratio: float
    sampled: int


class CharContextEnhancer(ContextAwareEnhancer):
    """Boost a result when one of its recognizer's context words occurs in a character window.

    Presidio's default enhancer compares lemmas of the surrounding tokens; without an NLP model
    there are no tokens, and Chinese has no spaces, so this one looks at raw characters.
    """

    def __init__(
        self, factor: float = 0.35, min_score: float = 0.4, before: int = 12, after: int = 4
    ):
        super().__init__(factor, min_score, before, after)

    def enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        """Raise the score of results with a context word nearby or in ``context``."""
        by_id = {r.id: r for r in recognizers}
        extra = " ".join(context or []).lower()
        for res in raw_results:
            meta = res.recognition_metadata or {}
            rec = by_id.get(meta.get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY))
            if (
                not rec
                or not rec.context
                or meta.get(RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY)
            ):
                continue
            head = text[max(0, res.start - self.context_prefix_count) : res.start]
            window = f"{head} {text[res.end : res.end + self.context_suffix_count]} {extra}".lower()
            if any(word.lower() in window for word in rec.context):
                res.score = min(
                    max(
                        res.score + self.context_similarity_factor,
                        self.min_score_with_context_similarity,
                    ),
                    1.0,
                )
                meta[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
                res.recognition_metadata = meta
        return raw_results


@lru_cache(maxsize=1)
def build_analyzer() -> AnalyzerEngine:
    """Return the (cached) analyzer: our recognizers only, language ``zh``, no NLP model."""
    nlp_engine = NoOpNlpEngine(models=[{"lang_code": LANGUAGE, "model_name": "none"}])
    registry = RecognizerRegistry(
        recognizers=[cls() for cls in RECOGNIZERS], supported_languages=[LANGUAGE]
    )
    return AnalyzerEngine(
        registry=registry,
        nlp_engine=nlp_engine,
        supported_languages=[LANGUAGE],
        default_score_threshold=0.4,
        context_aware_enhancer=CharContextEnhancer(),
    )


@lru_cache(maxsize=1)
def _anonymizer() -> AnonymizerEngine:
    return AnonymizerEngine()


def _resolve(results: list[RecognizerResult]) -> list[RecognizerResult]:
    """Keep non-overlapping results: longer spans first, then higher scores, then entity order."""
    ranked = sorted(
        results, key=lambda r: (r.start - r.end, -r.score, _PRIORITY.get(r.entity_type, 99))
    )
    kept: list[RecognizerResult] = []
    for r in ranked:
        if all(r.end <= k.start or r.start >= k.end for k in kept):
            kept.append(r)
    return sorted(kept, key=lambda r: r.start)


def _analyze(text: str) -> list[RecognizerResult]:
    if not isinstance(text, str) or not text:  # NaN or None cells of a free-text column
        return []
    return _resolve(build_analyzer().analyze(normalize(text), language=LANGUAGE))


def scan_text(text: str) -> list[Finding]:
    """Find personal data in ``text``; findings do not overlap and are in text order."""
    return [
        Finding(r.entity_type, r.start, r.end, round(r.score, 3), text[r.start : r.end])
        for r in _analyze(text)
    ]


def mask_text(text: str) -> str:
    """Replace every finding in ``text`` with ``<ENTITY>`` (e.g. ``<CN_MOBILE>``).

    Non-strings (NaN, None) are returned unchanged, so ``series.map(mask_text)`` keeps nulls.
    """
    results = _analyze(text)
    if not results:
        return text
    return _anonymizer().anonymize(text=text, analyzer_results=results).text


def _as_text(values: pd.Series) -> pd.Series | None:
    """Non-null values as stripped strings; None for dates, booleans, fractions."""
    s = values.dropna()
    kind = s.dtype.kind
    if kind in "bmMc":
        return None
    if kind == "f":  # whole numbers below 1e15 are exact in a float: mobiles read as numbers
        if not ((s == s.round()) & (s.abs() < 1e15)).all():
            return None
        s = s.astype("int64")
    s = s.astype("str").str.strip()
    return s[s != ""]


def canonical_forms(values: pd.Series) -> dict[str, pd.Series]:
    """The column's text in each whole-value form the recognizers match (``CANON``): compact
    (folded, separators and brackets dropped, upper-case) and text (folded, blanks dropped)."""
    return {"compact": compact_series(values), "text": squeeze_series(values)}


def detect_column(
    values: pd.Series, sample: int = 1000, min_ratio: float = 0.8
) -> ColumnFinding | None:
    """Name the entity that at least ``min_ratio`` of a column's non-null values are.

    Up to ``sample`` non-null values (a fixed random sample) are folded to their compact forms
    (full-width, separators, case: ``１１０１０１ 1990-0307 123x`` is ``11010119900307123X``) and
    matched against each entity's whole-value regex with pandas; the checksum runs only on the
    distinct matching values. Returns the entity with the highest share (ties go to the more
    specific entity), or None.
    """
    present = values.dropna()
    if len(present) > sample:
        present = present.sample(sample, random_state=0)
    s = _as_text(present)
    if s is None or s.empty:
        return None
    forms = canonical_forms(s)
    best: ColumnFinding | None = None
    for cls in RECOGNIZERS:
        recognizer = _recognizer(cls.ENTITY)
        form = forms[cls.CANON]
        hits = form[form.str.fullmatch(f"(?:{cls.full})").fillna(False).astype(bool)]
        if len(hits) < min_ratio * len(s):
            continue
        good = [v for v in hits.unique() if recognizer.valid(v)]
        ratio = float(hits.isin(good).sum()) / len(s)
        if ratio >= min_ratio and (best is None or ratio > best.ratio):
            best = ColumnFinding(cls.ENTITY, round(ratio, 4), len(s))
    return best


@cache
def _recognizer(entity: str) -> CnRecognizer:
    """The recognizer instance of the cached analyzer that detects ``entity``."""
    for r in build_analyzer().registry.recognizers:
        if entity in r.supported_entities:
            return r
    raise KeyError(entity)


def suggest_policy(entity: str) -> tuple[str, dict[str, object]]:
    """Default masking operator name and parameters for ``entity``.

    Raises:
        KeyError: for an entity this module does not detect.
    """
    operator, params = _POLICIES[entity]
    return operator, dict(params)
