"""``shuyu models migrate``: products published in the retired JSON format become ONNX models."""

from __future__ import annotations

import argparse

from hub.cli.base import App, ok


def cmd_models_migrate(app: App) -> int:
    from hub.production.model_migration import migrate

    outcome = app.run(lambda ctx: migrate(ctx.session, ctx.actor))
    migrated, paused = ", ".join(outcome.migrated) or "-", ", ".join(outcome.paused) or "-"
    ok(
        f"已迁移为 ONNX：{migrated}；无法转换而暂停：{paused}；已是 ONNX：{len(outcome.unchanged)} 个",
        f"migrated to ONNX: {migrated}; paused (cannot be converted): {paused}; already ONNX: "
        f"{len(outcome.unchanged)}",
    )
    return 0


def register(sub, parser_class: type[argparse.ArgumentParser]) -> None:
    models = sub.add_parser("models", help="published models").add_subparsers(
        dest="command", required=True, parser_class=parser_class
    )
    models.add_parser(
        "migrate", help="convert products' models of the retired JSON format to ONNX (idempotent)"
    ).set_defaults(fn=cmd_models_migrate)
