"""``shuyu product``: data products' registrations and their listing packages for the data
exchange (read-only; registering is a request the company submits and reviewers decide)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hub.cli.base import App, ok
from hub.i18n import UserError
from hub.refusals import Refusal


def _read(app: App, work):
    """``work(session)``; a refusal (no such product, not registered) is the user's error."""
    try:
        with app.db.session() as s:
            return work(s)
    except Refusal as e:
        raise UserError(e.msg) from None


def cmd_product_registrations(app: App) -> int:
    from hub.production import products, registry

    def read(s):
        product = products.get(s, app.args.name)
        return registry.registrations(s, product.name), registry.in_force(s, product)

    issued, in_force = _read(app, read)
    if not issued:
        print(f"{app.args.name}：尚未登记 / not registered")
    for r in issued:
        live = "（生效 / in force）" if r == in_force else ""
        print(f"{r['code']} V{r['version']}  {r['price']}/{r['unit']}  {r['registered_at']}  "
              f"model {r['model']['sha256'][:12]}  {'、'.join(r['approvers'])}{live}")  # fmt: skip
    return 0


def cmd_product_listing(app: App) -> int:
    from hub import settings
    from hub.production import listing

    a = app.args
    currency = settings.configured().price_book.currency
    package = _read(app, lambda s: listing.package(s, a.name, currency))
    text = (
        json.dumps(package, ensure_ascii=False, indent=1) + "\n"
        if a.format == "json"
        else listing.page(package)
    )
    if a.out:
        Path(a.out).write_text(text, encoding="utf-8")
        code = f"{package['registration']['code']} V{package['registration']['version']}"
        ok(f"挂牌信息已写入 {a.out}（{code}）", f"listing written to {a.out} ({code})")
    else:
        print(text, end="")
    return 0


def register(sub, parser_class: type[argparse.ArgumentParser]) -> None:
    product = sub.add_parser(
        "product", help="data products: registrations, listings"
    ).add_subparsers(dest="command", required=True, parser_class=parser_class)
    r = product.add_parser("registrations", help="a product's issued registrations")
    r.add_argument("name")
    r.set_defaults(fn=cmd_product_registrations)
    li = product.add_parser("listing", help="the listing package for the data exchange")
    li.add_argument("name")
    li.add_argument("--format", choices=["json", "html"], default="json")
    li.add_argument("--out", help="write to this file instead of standard output")
    li.set_defaults(fn=cmd_product_listing)
