"""The admin CLI: happy paths, and bad input that fails clearly and writes nothing."""

import pytest
from sqlalchemy import select

from hub import audit
from hub.db.engine import Database
from hub.db.models import Staff
from tests.cli_helpers import run_cli, snapshot

USCC = "91330106MA2H0A1B2T"
USCC2 = "91330100799655058B"
ID1 = "33010619900101123X"
ID2 = "11010519491231002X"
PASSWORD = "correct-horse-battery"


def test_when_staff_is_added_then_the_totp_secret_is_printed_and_the_id_number_is_not_stored(
    world, db_url
):
    db = Database(db_url)
    with db.session() as s:
        staff = s.scalars(select(Staff).where(Staff.username == "alice")).one()
        assert staff.id_last4 == "123X" and len(staff.id_hash) == 64
        assert staff.password_hash.startswith("$argon2id$")
    dump = repr(snapshot(db.engine))
    assert ID1 not in dump and ID1[:17] not in dump
    assert audit.verify(db.engine).ok


def test_when_the_whole_lifecycle_runs_then_every_command_is_audited(world, db_url):
    cli = world
    for argv in [
        ("staff", "verify", "alice"),
        ("training", "pass", "alice", "--score", "92"),
        (
            "scenario",
            "add",
            "--tenant",
            "甲科技",
            "--name",
            "信用评估",
            "--field",
            "金融",
            "--purpose",
            "小微企业信用",
            "--category",
            "industry",
        ),
        ("tenant", "suspend", "甲科技", "--reason", "违规调用"),
        ("tenant", "reinstate", "甲科技", "--reason", "整改完成"),
        ("agreement", "renew", "--tenant", "甲科技"),
        ("tenant", "revoke", "甲科技", "--reason", "严重违规"),
    ]:
        rc, out, err = cli(*argv)
        assert rc == 0, (argv, err)
    db = Database(db_url)
    with db.engine.connect() as conn:
        actions = [
            r[0] for r in conn.exec_driver_sql("SELECT action FROM audit_events ORDER BY id")
        ]
    assert actions == [
        "tenant.add",
        "agreement.sign",
        "department.add",
        "staff.add",
        "staff.verify",
        "training.record",
        "scenario.add",
        "tenant.suspend",
        "tenant.reinstate",
        "agreement.renew",
        "tenant.revoke",
    ]
    rc, out, _ = cli("audit", "verify")
    assert rc == 0 and "11" in out


def staff_add(**overrides) -> tuple[str, ...]:
    """``shuyu staff add`` for a valid reviewer ``bob``, with some options changed or removed (None)."""
    options = {
        "--username": "bob",
        "--real-name": "李四",
        "--id-number": ID2,
        "--mobile": "13912345678",
        "--role": "reviewer",
        **overrides,
    }
    argv = ["staff", "add"]
    for flag, value in options.items():
        if value is not None:
            argv += [flag, value]
    return (*argv, "--password-stdin")


def agreement_sign(*extra: str) -> tuple[str, ...]:
    return ("agreement", "sign", "--tenant", "甲科技", *extra)


BAD_INPUT = [
    ("bad credit code", ("tenant", "add", "--name", "乙", "--uscc", USCC[:-1] + "0"), "", "校验位"),
    ("empty tenant name", ("tenant", "add", "--name", "  ", "--uscc", USCC2), "", "不能为空"),
    ("duplicate credit code", ("tenant", "add", "--name", "乙", "--uscc", USCC), "", "已登记"),
    ("duplicate tenant name", ("tenant", "add", "--name", "甲科技", "--uscc", USCC2), "", "已存在"),
    ("unknown tenant for agreement", ("agreement", "sign", "--tenant", "丙"), "", "不存在"),
    ("malformed start date", agreement_sign("--start", "2026-02-30"), "", "YYYY-MM-DD"),
    ("term entirely in the past", agreement_sign("--start", "2019-01-01"), "", "before today"),
    ("overlapping agreement", agreement_sign("--start", "2027-06-01"), "", "overlaps"),
    (
        "signed after start",
        agreement_sign("--start", "2030-01-01", "--signed", "2030-02-01"),
        "",
        "signing date",
    ),
    ("bad ID checksum", staff_add(**{"--id-number": ID2[:-1] + "1"}), PASSWORD, "校验位"),
    ("empty real name", staff_add(**{"--real-name": ""}), PASSWORD, "不能为空"),
    ("duplicate user", staff_add(**{"--username": "alice"}), PASSWORD, "already exists"),
    ("duplicate ID number", staff_add(**{"--id-number": ID1}), PASSWORD, "already registered"),
    (
        "unknown tenant for staff",
        staff_add(**{"--role": "processor", "--tenant": "丙"}),
        PASSWORD,
        "unknown tenant",
    ),
    ("processor without tenant", staff_add(**{"--role": "processor"}), PASSWORD, "--tenant"),
    ("reviewer with a tenant", staff_add(**{"--tenant": "甲科技"}), PASSWORD, "no tenant"),
    (
        "provider of an unknown department",
        staff_add(**{"--role": "provider", "--department": "市不存在局"}),
        PASSWORD,
        "unknown department",
    ),
    ("bad role", staff_add(**{"--role": "boss"}), PASSWORD, "invalid role"),
    ("short password", staff_add(), "short", "at least"),
    ("bad mobile", staff_add(**{"--mobile": "12345"}), PASSWORD, "mobile"),
    ("missing ID number", staff_add(**{"--id-number": None}), PASSWORD, "usage error"),
    ("verify unknown user", ("staff", "verify", "nobody"), "", "unknown user"),
    ("score above 100", ("training", "pass", "alice", "--score", "120"), "", "between 0 and 100"),
    ("score not a number", ("training", "pass", "alice", "--score", "ninety"), "", "usage error"),
    (
        "bad scenario category",
        (
            "scenario",
            "add",
            "--tenant",
            "甲科技",
            "--name",
            "s",
            "--field",
            "金融",
            "--purpose",
            "p",
            "--category",
            "commercial",
        ),
        "",
        "category",
    ),
    (
        "field outside the programme",
        (
            "scenario",
            "add",
            "--tenant",
            "甲科技",
            "--name",
            "s",
            "--field",
            "军事",
            "--purpose",
            "p",
            "--category",
            "industry",
        ),
        "",
        "outside the programme",
    ),
    (
        "reinstate an active tenant",
        ("tenant", "reinstate", "甲科技", "--reason", "r"),
        "",
        "only a suspended",
    ),
    (
        "suspend without a reason",
        ("tenant", "suspend", "甲科技", "--reason", ""),
        "",
        "must not be empty",
    ),
    ("missing required option", ("tenant", "add", "--name", "乙"), "", "usage error"),
]


@pytest.mark.parametrize("case, argv, stdin, message", BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_when_input_is_bad_then_the_cli_fails_clearly_and_writes_nothing(
    world, db_url, case, argv, stdin, message
):
    engine = Database(db_url).engine
    before = snapshot(engine)
    rc, out, err = world(*argv, stdin=stdin + "\n")
    assert rc != 0
    assert message in err
    assert "Traceback" not in err + out
    assert snapshot(engine) == before


def test_when_the_database_cannot_be_reached_then_the_cli_says_so_without_a_traceback(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("SHUYU_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SHUYU_DB_URL", "sqlite:////proc/no-such-place/platform.sqlite")
    rc, out, err = run_cli(monkeypatch, capsys, "tenant", "list")
    assert rc != 0
    assert "错误 / error" in err and "Traceback" not in err + out
    assert "Traceback" in (tmp_path / "home" / "logs" / "cli.log").read_text()
