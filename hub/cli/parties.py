"""``shuyu party``: outside organisations' nodes (privacy computing).

``add``, ``list``, ``suspend``, ``resume`` and ``revoke`` change the platform's records (audited);
``serve``, ``pending``, ``approve`` and ``reject`` are the party's own node commands, run by
``python -m privacy`` in the SPU environment (this command execs it).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from hub.cli.base import App, ok

NODE_COMMANDS = ("serve", "pending", "approve", "reject")


def _privacy(app: App):  # noqa: ARG001 - the settings the hub would use
    from hub.settings import configured

    return configured().privacy


def cmd_party_add(app: App) -> int:
    from hub.ops import parties

    a = app.args
    rules = _privacy(app)
    party, bundle = app.run(
        lambda ctx: parties.add(ctx, app.home, a.name, a.tenant, a.address, rules.privacy_listen)
    )
    if a.out:
        out = Path(a.out)
        out.unlink(missing_ok=True)  # a new file, 0600: it holds the party's private key
        bundle.write(out)
        ok(f"已登记参与方：{party.name}（{party.id}），凭证包已写入 {out}",
           f"party registered: {party.name} ({party.id}); bundle written to {out}")  # fmt: skip
    else:
        ok(f"已登记参与方：{party.name}（{party.id}）；凭证包如下，请安全交付",
           f"party registered: {party.name} ({party.id}); its bundle follows, deliver it safely")  # fmt: skip
        import json
        from dataclasses import asdict

        from privacy.bundle import FORMAT

        print(json.dumps({"format": FORMAT, **asdict(bundle)}, ensure_ascii=False, indent=1))
    print(f"fingerprint: {party.fingerprint}")
    return 0


def cmd_party_list(app: App) -> int:
    from sqlalchemy import select

    from hub.db.models import Party

    with app.db.session() as s:
        for p in s.scalars(select(Party).order_by(Party.created_at, Party.id)):
            tables = ",".join(sorted(p.declared_schema or {})) or "-"
            print(f"{p.id}\t{p.name}\t{p.tenant.name}\t{p.address}\t{p.status.value}\t"
                  f"{p.fingerprint[:16]}\t{tables}")  # fmt: skip
    return 0


def cmd_party_status(app: App) -> int:
    from hub.ops import parties

    a = app.args
    p = app.run(lambda ctx: parties.change_status(ctx, a.party, a.command, a.reason))
    ok(f"参与方 {p.name}（{p.id}）状态：{p.status.value}", f"party {p.name} ({p.id}) is now {p.status.value}")  # fmt: skip
    return 0


def cmd_party_node(app: App) -> int:
    """Exec the party's node command in the SPU environment (never returns on success)."""
    from hub.privacy.node import Node, default_python
    from hub.settings import load

    # On the party's machine there is no platform configuration to read (and none to create):
    # only the environment (SHUYU_SETTINGS, SHUYU_SPU_PYTHON) or the checkout's .venv-spu.
    rules = load().privacy
    python = rules.privacy_python or default_python()
    a = app.args
    rest = [f"--{name}" for name in ("bundle", "data", "state", "listen") if getattr(a, name, None)]
    rest = [item for flag in rest for item in (flag, getattr(a, flag[2:]))]
    if getattr(a, "request_id", None):
        rest.append(a.request_id)
    argv = Node(rules.privacy_listen, "", python, Path()).command(a.command, *rest)
    sys.stdout.flush()
    try:
        os.execv(argv[0], argv)
    except OSError:
        from hub.i18n import Msg, UserError

        raise UserError(
            Msg(f"无法启动隐私计算环境的 Python：{argv[0]}",
                f"the privacy-computing environment's Python cannot be started: {argv[0]}")
        ) from None  # fmt: skip
    return 0  # not reached


def register(sub, parser_class: type[argparse.ArgumentParser]) -> None:
    party = sub.add_parser("party", help="privacy-computing parties").add_subparsers(
        dest="command", required=True, parser_class=parser_class
    )
    p = party.add_parser("add", help="register a party and print its bundle")
    p.add_argument("--name", required=True)
    p.add_argument("--tenant", required=True)
    p.add_argument("--address", required=True, help="HOST:PORT of the party's node")
    p.add_argument("--out", help="write the bundle (0600) here instead of printing it")
    p.set_defaults(fn=cmd_party_add)
    party.add_parser("list").set_defaults(fn=cmd_party_list)
    for command in ("suspend", "resume", "revoke"):
        p = party.add_parser(command)
        p.add_argument("party", help="the party's id (p-…)")
        p.add_argument("--reason", required=True)
        p.set_defaults(fn=cmd_party_status)
    helps = {
        "serve": "run the party's node next to its data (on the party's machine)",
        "pending": "show the computations proposed to the party",
        "approve": "sign a proposed computation (the party's approval)",
        "reject": "reject a proposed computation",
    }
    for command in NODE_COMMANDS:
        p = party.add_parser(command, help=f"{helps[command]} (python -m privacy {command})")
        p.add_argument("--bundle", required=True, help="the party's bundle (shuyu party add)")
        p.add_argument("--state", help="the node's state folder (default: DATA/.shuyu)")
        if command in ("serve", "pending"):
            p.add_argument("--data", required=command == "serve", help="folder of CSV/Parquet")
        if command == "serve":
            p.add_argument("--listen", help="HOST:PORT (default: the bundle's node address)")
        if command in ("approve", "reject"):
            p.add_argument("request_id")
        p.set_defaults(fn=cmd_party_node)
