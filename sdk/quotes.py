"""What a request will cost, shown in the notebook before anything is submitted."""

from __future__ import annotations

from sdk import html
from sdk.client import APIClient


def show_quote(
    client: APIClient, kind: str, scenario: str | None, resources: dict | None = None
) -> dict:
    """Fetch what the request will cost against the company's monthly cap, and show it in the
    notebook (the platform refuses a request over the cap)."""
    quote = client.quote(kind, scenario, **(resources or {}))
    cap = quote["budget"] or "—"
    html.show(html.table(
        ["预计费用 Quote", "本月已用 Spent", "月度上限 Cap", "类别 Category"],
        [(f"{quote['amount']} {quote['currency']}", quote["spent"], cap, quote["category"])],
        quote.get("condition") or "",
    ))  # fmt: skip
    return quote
