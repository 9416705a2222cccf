"""Quotes and budget caps: a request that would take the month's charges over the tenant's cap
is refused before it is submitted, with the numbers."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.orm import Session

from hub import audit
from hub.billing.prices import PriceBook, money
from hub.billing.statements import spent
from hub.db.models import Scenario, Tenant
from hub.i18n import Msg
from hub.ops import Ctx, lookup
from hub.refusals import Conflict


@dataclass(frozen=True)
class Quote:
    amount: Decimal
    currency: str
    spent: Decimal
    budget: Decimal | None
    category: str
    condition: str

    @property
    def remaining(self) -> Decimal | None:
        return None if self.budget is None else self.budget - self.spent

    def as_dict(self) -> dict:
        return {"amount": str(self.amount), "currency": self.currency, "spent": str(self.spent),
                "budget": None if self.budget is None else str(self.budget),
                "remaining": None if self.remaining is None else str(self.remaining),
                "category": self.category, "condition": self.condition}  # fmt: skip


def quote(
    s: Session, tenant: Tenant, scenario: Scenario, kind: str, resources: dict, book: PriceBook
) -> Quote:
    category = scenario.category.value
    budget = (
        None
        if tenant.monthly_budget_fen is None
        else money(Decimal(tenant.monthly_budget_fen) / 100)
    )
    return Quote(book.quote(kind, resources, category), book.currency, spent(s, tenant, book), budget,
                 category, book.conditions.get(category, ""))  # fmt: skip


def check(
    s: Session, tenant: Tenant, scenario: Scenario, kind: str, resources: dict, book: PriceBook
) -> Quote:
    """The quote, or :class:`Conflict` ``over_budget`` if it would exceed the month's cap."""
    q = quote(s, tenant, scenario, kind, resources, book)
    if q.budget is not None and q.spent + q.amount > q.budget:
        raise Conflict(
            Msg(f"超出本月预算：已用 {q.spent}，本次预计 {q.amount}，上限 {q.budget} {q.currency}",
                f"over this month's budget: {q.spent} spent, this request up to {q.amount}, "
                f"cap {q.budget} {q.currency}"),
            "over_budget",
        )  # fmt: skip
    return q


def set_budget(ctx: Ctx, tenant_name: str, amount: Decimal | None) -> Tenant:
    """Set (or with None remove) a tenant's monthly cap; audited."""
    tenant = lookup.tenant(ctx.session, tenant_name)
    if amount is not None and amount < 0:
        from hub.i18n import UserError

        raise UserError(Msg("预算不能为负数", "a budget cannot be negative"))
    tenant.monthly_budget_fen = None if amount is None else int(money(amount) * 100)
    audit.append(ctx.session, "tenant.budget", actor=ctx.actor, tenant=tenant.group, object=tenant.name,
                 details={"monthly_budget": None if amount is None else str(money(amount))})  # fmt: skip
    return tenant
