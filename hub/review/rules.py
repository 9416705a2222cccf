"""Review rules and check thresholds, as ``jupyterhub_config.py`` sets them (``REVIEW_RULES``)
and hands them to the gateway (``SHUYU_REVIEW_RULES``, JSON)."""

from __future__ import annotations

import json
from dataclasses import fields

from hub.review.checks import Limits
from hub.review.lifecycle import Policy


def parse(text: str) -> tuple[Policy, Limits]:
    """The policy and limits named in ``text`` (JSON object); unknown names are an error, so
    a typo in the configuration cannot silently keep a default."""
    values = json.loads(text or "{}")
    if not isinstance(values, dict):
        raise ValueError("review rules must be a JSON object")
    policy_names = {f.name for f in fields(Policy)}
    limit_names = {f.name for f in fields(Limits)}
    unknown = set(values) - policy_names - limit_names
    if unknown:
        raise ValueError(
            f"unknown review rules: {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(policy_names | limit_names))})"
        )
    policy = Policy(**{k: v for k, v in values.items() if k in policy_names})
    limits = Limits(**{k: v for k, v in values.items() if k in limit_names})
    return policy, limits
