"""``python -m privacy <command>``: the party node and the platform node's calls.

Exit codes: 0 ok; 2 bad input; 3 the party has not approved; 4 the party rejected; 5 the peer
is unreachable or failed authentication; 1 anything else. Errors go to stderr in Chinese and
English; results (JSON) to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path

from privacy import pki
from privacy.approvals import ApprovalError, Approvals, describe
from privacy.bundle import Bundle, BundleError
from privacy.node import NodeError, hello, propose, run, serve
from privacy.relay import split_address
from privacy.spec import Computation, SpecError

OK, FAILED, BAD_INPUT = 0, 1, 2
TAP_ENV = "SHUYU_PRIVACY_TAP"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m privacy", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="参与方节点 / run the party node")
    p.add_argument("--bundle", type=Path, required=True)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--state", type=Path)
    p.add_argument("--listen")

    p = sub.add_parser("pending", help="待审批的计算 / computations awaiting your decision")
    p.add_argument("--bundle", type=Path, required=True)
    p.add_argument("--state", type=Path)
    p.add_argument("--data", type=Path)

    for name, text in (("approve", "批准 / approve"), ("reject", "拒绝 / reject")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--bundle", type=Path, required=True)
        p.add_argument("--state", type=Path, required=True)
        p.add_argument("request_id", type=int, metavar="REQUEST_ID")

    for name, text in (
        ("hello", "平台节点：参与方的表结构 / platform node: the party's table schemas"),
        ("propose", "平台节点：提交计算待参与方审批 / platform node: propose a computation"),
        ("run", "平台节点：运行已批准的计算 / platform node: run an approved computation"),
    ):
        p = sub.add_parser(name, help=text)
        if name != "hello":
            p.add_argument("--spec", type=Path, required=True)
        if name == "run":
            p.add_argument("--public", type=Path, required=True)
            p.add_argument("--listen", required=True)
            p.add_argument("--out", type=Path, required=True)
            p.add_argument("--progress", type=Path)
            p.add_argument("--wait-approval", type=float, default=0.0, metavar="SECONDS")
        p.add_argument("--creds", type=Path, required=True)
        p.add_argument("--peer", required=True)
        p.add_argument("--party", required=True)
    return parser


def _creds(folder: Path) -> pki.Credentials:
    creds = pki.Credentials(folder / "ca.pem", folder / "node.pem", folder / "node.key")
    for path in (creds.ca, creds.cert, creds.key):
        if not path.is_file():
            raise NodeError(BAD_INPUT, f"缺少证书文件 / missing credential file: {path.name}")
    return creds


def _spec(path: Path) -> Computation:
    try:
        return Computation.from_json(path.read_text())
    except OSError as e:
        raise NodeError(BAD_INPUT, f"无法读取计算描述 / cannot read the spec: {path}") from e
    except SpecError as e:
        raise NodeError(BAD_INPUT, str(e)) from e


def _state(args: argparse.Namespace) -> Path:
    if args.state is not None:
        return args.state
    if getattr(args, "data", None) is not None:
        return args.data / ".shuyu"
    raise NodeError(BAD_INPUT, "需要 --state 或 --data / --state or --data is needed")


def _address(address: str) -> str:
    try:
        split_address(address)
    except ValueError as e:
        raise NodeError(BAD_INPUT, str(e)) from e
    return address


def _tap() -> Path | None:
    folder = os.environ.get(TAP_ENV)
    return Path(folder) if folder else None


async def _until_signal(coro, stopped_ok: bool = False):
    """Run ``coro``; SIGTERM/SIGINT cancel it, so its relay closes and its worker is stopped."""
    task = asyncio.ensure_future(coro)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, task.cancel)
    try:
        return await task
    except asyncio.CancelledError:
        if stopped_ok:
            return None
        raise NodeError(FAILED, "已被中止 / interrupted") from None


def _emit(data: object) -> None:
    print(json.dumps(data, ensure_ascii=False))


def dispatch(args: argparse.Namespace) -> int:
    if args.command in ("serve", "pending", "approve", "reject"):
        try:
            bundle = Bundle.read(args.bundle)
        except BundleError as e:
            raise NodeError(BAD_INPUT, str(e)) from e
        state = _state(args)
        if args.command == "serve":
            if not args.data.is_dir():
                raise NodeError(BAD_INPUT, f"数据目录不存在 / no data folder: {args.data}")
            listen = _address(args.listen or bundle.node_address)
            asyncio.run(
                _until_signal(serve(bundle, args.data, state, listen, _tap()), stopped_ok=True)
            )
            return OK
        approvals = Approvals(state, bundle.cert_pem, bundle.key_pem)
        if args.command == "pending":
            specs = approvals.pending()
            if not specs:
                print("没有待审批的计算 / nothing awaits your decision")
            for spec in specs:
                print("\n".join(describe(spec)))
                print()
            return OK
        try:
            if args.command == "approve":
                approvals.approve(args.request_id)
                print(f"已批准 / approved: {args.request_id}")
            else:
                approvals.reject(args.request_id)
                print(f"已拒绝 / rejected: {args.request_id}")
        except ApprovalError as e:
            raise NodeError(BAD_INPUT, str(e)) from e
        return OK

    creds = _creds(args.creds)
    peer = _address(args.peer)
    if args.command == "hello":
        _emit(asyncio.run(hello(creds, peer, args.party)))
        return OK
    spec = _spec(args.spec)
    if args.command == "propose":
        _emit(asyncio.run(propose(creds, spec, peer, args.party)))
        return OK
    if not args.public.is_file():
        raise NodeError(BAD_INPUT, f"平台数据不存在 / no public table: {args.public}")
    record = asyncio.run(
        _until_signal(
            run(
                creds,
                spec,
                args.public,
                _address(args.listen),
                peer,
                args.party,
                args.out,
                progress=args.progress,
                wait_approval=args.wait_approval,
                tap=_tap(),
            )
        )
    )
    print(json.dumps({"digest": record["digest"], "out": str(args.out / "result.json")}))
    return OK


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = _parser().parse_args(argv)
    try:
        return dispatch(args)
    except NodeError as e:
        print(f"错误 / error: {e}", file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        return FAILED
    except Exception as e:  # noqa: BLE001 - the last word, bilingual, no stack trace for users
        logging.getLogger("shuyu.privacy").exception("command failed")
        print(f"错误 / error: 内部错误 / internal error: {type(e).__name__}", file=sys.stderr)
        return FAILED


if __name__ == "__main__":
    sys.exit(main())
