"""``shuyu``: the platform's admin command line.

Every command validates its input and either completes with its audit event or fails with a
bilingual message, a non-zero exit and nothing written (one transaction per command).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from hub import home
from hub.cli import billing, catalog, models, parties, products
from hub.cli.base import EXIT_FAILED, EXIT_USAGE, App, Parser, ok
from hub.i18n import UserError
from hub.ops import Ctx


# --- commands ----------------------------------------------------------------------------------
def cmd_init(app: App) -> int:
    from hub.ops.setup import init_home

    init_home(app.home, app.db)
    ok(f"已初始化：{app.home}", f"initialized {app.home}")
    return 0


def cmd_demo(app: App) -> int:
    from hub.demo.world import build

    created = build(app.home, app.db, rows=app.args.rows, actor=app.actor)
    if created:
        ok("演示环境已创建", "demo world created")
    else:
        ok("演示环境已存在，未重复创建", "demo world already present; nothing changed")
    return 0


def cmd_demo_code(app: App) -> int:
    from hub.demo.world import current_code

    print(current_code(app.home, app.args.username))
    return 0


def cmd_demo_info(app: App) -> int:
    from hub.demo.world import describe

    print(describe(app.home, app.args.url))
    return 0


def cmd_up(app: App) -> int:
    from hub.ops.setup import init_home

    init_home(app.home, app.db)
    config = home.CHECKOUT / "jupyterhub_config.py"
    os.chdir(app.home)
    exe = str(Path(sys.executable).with_name("jupyterhub"))
    os.execv(exe, [exe, "-f", str(config), *app.args.extra])
    return 0  # not reached


def cmd_tenant_add(app: App) -> int:
    from hub.ops import tenants

    t = app.run(lambda ctx: tenants.add(ctx, app.args.name, app.args.uscc, app.args.qualification))
    ok(f"已登记加工使用主体：{t.name}（{t.uscc}）", f"tenant registered: {t.name} ({t.uscc})")
    return 0


def cmd_tenant_status(app: App) -> int:
    from hub.ops import tenants

    command = app.args.command
    t = app.run(lambda ctx: tenants.change_status(ctx, app.args.name, command, app.args.reason))
    ok(f"{t.name} 状态：{t.status.value}", f"{t.name} is now {t.status.value}")
    return 0


def cmd_tenant_list(app: App) -> int:
    from sqlalchemy import select

    from hub.admission import current_agreement
    from hub.db.models import Tenant

    with app.db.session() as s:
        for t in s.scalars(select(Tenant).order_by(Tenant.id)):
            a = current_agreement(t, Ctx(s, app.actor).today)
            term = f"{a.start}..{a.end}" if a else "-"
            print(f"{t.name}\t{t.uscc}\t{t.status.value}\t{t.qualification.value}\t{term}")
    return 0


def cmd_agreement(app: App) -> int:
    from hub.ops import agreements
    from hub.validators import parse_date

    a = app.args
    if a.command == "sign":
        start = parse_date(a.start, "start") if a.start else None
        signed = parse_date(a.signed, "signed") if a.signed else None
        ag = app.run(lambda ctx: agreements.sign(ctx, a.tenant, start, signed))
    elif a.command == "renew":
        ag = app.run(lambda ctx: agreements.renew(ctx, a.tenant))
    else:
        ag = app.run(lambda ctx: agreements.terminate(ctx, a.tenant, a.reason))
    ok(
        f"协议 #{ag.id}：{ag.start} 至 {ag.end}，状态 {ag.status.value}",
        f"agreement #{ag.id}: {ag.start} to {ag.end}, {ag.status.value}",
    )
    return 0


def cmd_staff_add(app: App) -> int:
    from hub.ops import staff

    a = app.args
    if not a.password_stdin:
        raise UserError(
            _msg(
                "请用 --password-stdin 从标准输入提供密码",
                "give the password on standard input with --password-stdin",
            )
        )
    password = sys.stdin.readline().rstrip("\r\n")
    new = app.run(
        lambda ctx: staff.add(
            ctx,
            username=a.username,
            real_name=a.real_name,
            id_number=a.id_number,
            mobile=a.mobile,
            role=a.role,
            password=password,
            tenant=a.tenant,
            department=a.department,
        )
    )
    ok(
        f"已登记用户：{new.staff.username}（待实名认证与培训考核）",
        f"user registered: {new.staff.username} (real-name verification and training pending)",
    )
    print(f"TOTP secret: {new.totp_secret}")
    print(f"TOTP URI: {new.provisioning_uri}")
    return 0


def cmd_staff_verify(app: App) -> int:
    from hub.ops import staff

    s = app.run(lambda ctx: staff.verify(ctx, app.args.username))
    ok(f"{s.username} 已完成实名认证", f"{s.username} is real-name verified")
    return 0


def cmd_staff_bind_oidc(app: App) -> int:
    from hub.ops import staff

    a = app.args
    s = app.run(lambda ctx: staff.bind_subject(ctx, a.username, a.subject, a.reason))
    if s.oidc_subject:
        ok(f"{s.username} 已绑定统一身份认证账户", f"{s.username} is bound to the provider subject")
    else:
        ok(f"{s.username} 已解除统一身份认证绑定", f"{s.username} is no longer bound to a subject")
    return 0


def cmd_training_pass(app: App) -> int:
    from hub.ops import staff

    a = app.args
    r = app.run(
        lambda ctx: staff.record_training(
            ctx,
            a.username,
            a.score,
            course=a.course,
            pass_mark=a.pass_mark,
            valid_days=a.valid_days,
        )
    )
    if r.passed:
        ok(
            f"{a.username} 考核通过，有效期至 {r.valid_until}",
            f"{a.username} passed, valid until {r.valid_until}",
        )
    else:
        ok(
            f"{a.username} 考核未通过（{r.score} < {r.pass_mark}），已记录",
            f"{a.username} did not pass ({r.score} < {r.pass_mark}); recorded",
        )
    return 0


def cmd_department_add(app: App) -> int:
    from hub.ops import org

    d = app.run(lambda ctx: org.add_department(ctx, app.args.name))
    ok(f"已登记数据提供部门：{d.name}", f"department registered: {d.name}")
    return 0


def cmd_scenario_add(app: App) -> int:
    from hub.ops import org

    a = app.args
    sc = app.run(
        lambda ctx: org.add_scenario(
            ctx, tenant=a.tenant, name=a.name, field=a.field, purpose=a.purpose, category=a.category
        )
    )
    ok(
        f"已备案场景：{sc.name}（{sc.category.value}）",
        f"scenario filed: {sc.name} ({sc.category.value})",
    )
    return 0


def cmd_audit_verify(app: App) -> int:
    from hub import audit

    report = audit.verify(app.db.engine, app.db.anchor)
    if app.args.against:
        report = audit.reaches(app.db.engine, report, _kept_checkpoint(app))
    if report.ok:
        ok(f"审计链完整：{report.count} 条事件", f"audit chain holds: {report.count} events")
        print(f"head: {report.head}")
        return 0
    print(
        f"审计链断裂于事件 #{report.broken_id} / audit chain broken at event #{report.broken_id}: {report.problem}"
    )
    return EXIT_FAILED


def _archive_cutoff(text: str):
    from datetime import UTC, datetime

    try:
        day = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(
            _msg(f"日期无效：{text}（应为 YYYY-MM-DD）", f"bad date {text} (expected YYYY-MM-DD)")
        ) from None
    return day if day.tzinfo else day.replace(tzinfo=UTC)


def cmd_audit_archive(app: App) -> int:
    from hub import audit, audit_archive

    before = _archive_cutoff(app.args.before)
    summary = audit_archive.export(app.db.engine, app.db.anchor, before, Path(app.args.out))
    app.run(
        lambda ctx: audit.append(
            ctx.session,
            "audit.archive",
            actor=ctx.actor,
            object=str(summary.path),
            details={
                "before": app.args.before,
                "count": summary.count,
                "first_id": summary.first_id,
                "last_id": summary.last_id,
                "last_hash": summary.last_hash,
            },
        )
    )
    if summary.count == 0:
        ok(
            f"{app.args.before} 之前没有审计事件；已写出空归档 {summary.path}",
            f"no audit events before {app.args.before}; wrote an empty archive {summary.path}",
        )
    else:
        ok(
            f"已归档 {summary.count} 条审计事件（#{summary.first_id}–#{summary.last_id}）到 {summary.path}",
            f"archived {summary.count} audit events (#{summary.first_id}-#{summary.last_id}) "
            f"to {summary.path}",
        )
    print(f"last hash: {summary.last_hash}")
    return 0


def cmd_audit_verify_archive(app: App) -> int:
    from hub import audit_archive

    report = audit_archive.verify_archive(Path(app.args.file), app.db.anchor, app.db.engine)
    if report.ok:
        ok(
            f"归档完整且与数据库中的审计链衔接：{report.count} 条事件",
            f"archive holds and continues into the trail in the database: {report.count} events",
        )
        print(f"last hash: {report.last_hash}")
        return 0
    where = f" #{report.broken_id}" if report.broken_id is not None else ""
    print(f"审计归档校验失败{where} / audit archive does not verify{where}: {report.problem}")
    return EXIT_FAILED


def cmd_audit_prune(app: App) -> int:
    from hub import audit_archive, settings

    days = settings.configured().retention.audit_days
    try:
        summary = audit_archive.prune(app.db, Path(app.args.archive), days, app.actor)
    except audit_archive.PruneRefused as e:
        raise UserError(_msg(e.zh, e.en)) from None
    if summary.count == 0:
        ok(
            f"没有已归档且超过保留期（{days} 天）的事件；未删除任何事件",
            f"no archived events past retention ({days} days); nothing deleted",
        )
        return 0
    ok(
        f"已从数据库删除已归档且超过保留期（{days} 天）的 {summary.count} 条事件"
        f"（#{summary.first_id}–#{summary.last_id}）",
        f"pruned {summary.count} archived events past retention ({days} days) "
        f"(#{summary.first_id}-#{summary.last_id}) from the database",
    )
    print(f"chain base: #{summary.last_id} {summary.last_hash}")
    return 0


def _kept_checkpoint(app: App):
    """The signed checkpoint in an audit export (JSON) an auditor kept; refused unless its
    signature is the platform's."""
    import json

    from hub.audit_anchor import Checkpoint

    bad = _msg(
        f"无法读取审计导出中的检查点：{app.args.against}",
        f"no signed checkpoint can be read from the audit export {app.args.against}",
    )
    try:
        data = json.loads(Path(app.args.against).read_text(encoding="utf-8"))["checkpoint"]
        point = Checkpoint(int(data["id"]), str(data["hash"]), str(data["ts"]), str(data["mac"]))
    except (OSError, ValueError, KeyError, TypeError):
        raise UserError(bad) from None
    if not app.db.anchor.signed(point):
        raise UserError(
            _msg(
                "检查点签名无效：它不是本平台签发的",
                "the checkpoint's signature is not this platform's",
            )
        )
    return point


def _msg(zh: str, en: str):
    from hub.i18n import Msg

    return Msg(zh, en)


# --- parser ------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="shuyu", description="Shuyu (数域) platform administration")
    p.add_argument("--actor", help="who is acting, for the audit trail (default: cli:<os user>)")
    sub = p.add_subparsers(dest="group", required=True, parser_class=Parser)

    sub.add_parser("init", help="create $SHUYU_HOME, secrets and the platform DB").set_defaults(
        fn=cmd_init
    )
    demo = sub.add_parser("demo", help="create the demo world (idempotent)")
    demo.add_argument("--rows", type=int, default=100_000, help="rows per synthetic dataset")
    demo.set_defaults(fn=cmd_demo)
    code = sub.add_parser("demo-code", help="current TOTP code of a demo login")
    code.add_argument("username")
    code.set_defaults(fn=cmd_demo_code)
    info = sub.add_parser("demo-info", help="print the URL and the demo logins")
    info.add_argument("--url", default="http://127.0.0.1:8000")
    info.set_defaults(fn=cmd_demo_info)
    up = sub.add_parser("up", help="start the hub")
    up.add_argument("extra", nargs=argparse.REMAINDER, help="extra jupyterhub arguments")
    up.set_defaults(fn=cmd_up)

    tenant = sub.add_parser("tenant", help="processor companies").add_subparsers(
        dest="command", required=True, parser_class=Parser
    )
    t = tenant.add_parser("add")
    t.add_argument("--name", required=True)
    t.add_argument("--uscc", required=True, help="unified social credit code (统一社会信用代码)")
    t.add_argument(
        "--qualification", default="qualified", choices=["qualified", "pending", "rejected"]
    )
    t.set_defaults(fn=cmd_tenant_add)
    for command in ("suspend", "revoke", "reinstate"):
        t = tenant.add_parser(command)
        t.add_argument("name")
        t.add_argument("--reason", required=True)
        t.set_defaults(fn=cmd_tenant_status)
    tenant.add_parser("list").set_defaults(fn=cmd_tenant_list)

    agreement = sub.add_parser("agreement", help="authorization agreements").add_subparsers(
        dest="command", required=True, parser_class=Parser
    )
    a = agreement.add_parser("sign")
    a.add_argument("--tenant", required=True)
    a.add_argument("--start", help="YYYY-MM-DD (default: today)")
    a.add_argument("--signed", help="YYYY-MM-DD signing date (default: today or the start)")
    a.set_defaults(fn=cmd_agreement)
    a = agreement.add_parser("renew")
    a.add_argument("--tenant", required=True)
    a.set_defaults(fn=cmd_agreement)
    a = agreement.add_parser("terminate")
    a.add_argument("--tenant", required=True)
    a.add_argument("--reason", required=True)
    a.set_defaults(fn=cmd_agreement)

    staff = sub.add_parser("staff", help="staff accounts").add_subparsers(
        dest="command", required=True, parser_class=Parser
    )
    s = staff.add_parser("add")
    s.add_argument("--username", required=True)
    s.add_argument("--real-name", required=True)
    s.add_argument(
        "--id-number",
        required=True,
        help="resident ID number; only a keyed hash and the last 4 are kept",
    )
    s.add_argument("--mobile", required=True)
    s.add_argument(
        "--role", required=True, help="processor | reviewer | admin | auditor | provider"
    )
    s.add_argument("--tenant")
    s.add_argument("--department")
    s.add_argument("--password-stdin", action="store_true")
    s.set_defaults(fn=cmd_staff_add)
    s = staff.add_parser("verify")
    s.add_argument("username")
    s.set_defaults(fn=cmd_staff_verify)
    s = staff.add_parser(
        "bind-oidc", help="bind the unified identity provider's subject (sub) to a staff record"
    )
    s.add_argument("username")
    s.add_argument("--subject", help="the provider's sub; omitted: unbind")
    s.add_argument("--reason", required=True)
    s.set_defaults(fn=cmd_staff_bind_oidc)

    dept = sub.add_parser("department", help="data-provider departments").add_subparsers(
        dest="command", required=True, parser_class=Parser
    )
    d = dept.add_parser("add")
    d.add_argument("--name", required=True)
    d.set_defaults(fn=cmd_department_add)

    scen = sub.add_parser("scenario", help="application scenarios").add_subparsers(
        dest="command", required=True, parser_class=Parser
    )
    sc = scen.add_parser("add")
    sc.add_argument("--tenant", required=True)
    sc.add_argument("--name", required=True)
    sc.add_argument("--field", required=True)
    sc.add_argument("--purpose", required=True)
    sc.add_argument("--category", required=True, help="public-governance | industry")
    sc.set_defaults(fn=cmd_scenario_add)

    training = sub.add_parser("training", help="training and exams").add_subparsers(
        dest="command", required=True, parser_class=Parser
    )
    tr = training.add_parser("pass", help="record an exam result")
    tr.add_argument("username")
    tr.add_argument("--score", type=int, required=True)
    tr.add_argument("--course", default="公共数据授权运营安全培训")
    tr.add_argument("--pass-mark", type=int, default=80)
    tr.add_argument("--valid-days", type=int, default=365)
    tr.set_defaults(fn=cmd_training_pass)

    catalog.register(sub, Parser)
    billing.register(sub, Parser)
    models.register(sub, Parser)
    parties.register(sub, Parser)
    products.register(sub, Parser)

    aud = sub.add_parser("audit", help="the audit trail").add_subparsers(
        dest="command", required=True, parser_class=Parser
    )
    s = aud.add_parser("verify", help="recompute the hash chain")
    s.add_argument(
        "--against", metavar="EXPORT.json", help="also reach this kept export's checkpoint"
    )
    s.set_defaults(fn=cmd_audit_verify)
    s = aud.add_parser(
        "archive", help="export events older than a date, with their chain hashes (JSON lines)"
    )
    s.add_argument("--before", required=True, metavar="YYYY-MM-DD", help="cut-off (UTC)")
    s.add_argument("--out", required=True, metavar="FILE")
    s.set_defaults(fn=cmd_audit_archive)
    s = aud.add_parser(
        "verify-archive", help="check an archive's hashes and its link to the trail in the DB"
    )
    s.add_argument("file", metavar="FILE")
    s.set_defaults(fn=cmd_audit_verify_archive)
    s = aud.add_parser(
        "prune",
        help="delete from the DB the archived events past retention (Settings.retention)",
    )
    s.add_argument("--archive", required=True, metavar="FILE", help="an archive that verifies")
    s.set_defaults(fn=cmd_audit_prune)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    app = App(args)
    try:
        return args.fn(app)
    except UserError as e:
        print(f"错误 / error: {e.msg}", file=sys.stderr)
        return EXIT_USAGE
    except SQLAlchemyError as e:
        _log_internal(app, e)
        print(
            "错误 / error: 平台数据库不可用或操作失败，未做任何更改 / the platform database is unavailable or refused the change; nothing was changed",
            file=sys.stderr,
        )
        return EXIT_FAILED
    except Exception as e:  # never show a stack trace to the operator; keep it in the log
        _log_internal(app, e)
        print(
            f"错误 / error: 内部错误，未完成操作，详情见 {app.home / 'logs' / 'cli.log'} / "
            "internal error; the command did not complete, details are in that log",
            file=sys.stderr,
        )
        return EXIT_FAILED


def _log_internal(app: App, error: Exception) -> None:
    """Keep the details of an unexpected failure in ``logs/cli.log``, never on the terminal."""
    internal = logging.getLogger("shuyu.cli.internal")
    internal.propagate = False
    try:
        (app.home / "logs").mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(app.home / "logs" / "cli.log")
    except OSError:
        return
    internal.addHandler(handler)
    internal.error("shuyu %s failed", " ".join(sys.argv[1:3]), exc_info=error)
    internal.removeHandler(handler)
    handler.close()
