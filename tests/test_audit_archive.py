"""Retention and archives of the audit trail: a retention under six months is refused; old events
exported with their chain hashes verify alone and continue into the trail left in the database;
an edited, shortened or re-headed archive fails."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub import audit, audit_archive, settings
from hub.audit_anchor import Anchor
from hub.db.engine import Database
from tests.cli_helpers import run_cli

OLD = 6  # events dated 2025-01, before the cut-off
NEW = 4  # events written now


@pytest.fixture
def trail(shuyu_home: Path, db_url: str):
    """A trail of OLD events from January 2025, then NEW events of today, anchored in the home."""
    db = Database(db_url, anchor=Anchor.for_home(shuyu_home))
    for i in range(OLD):
        with db.session() as s:
            audit.append(s, "test.old", actor=f"u{i}", ts=f"2025-01-0{i + 1}T08:00:00.000000Z")
    for i in range(NEW):
        with db.session() as s:
            audit.append(s, "test.new", actor=f"n{i}", details={"i": i, "名": "值"})
    yield db
    db.dispose()


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def write(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")


def test_archive_then_verify_through_the_cli(trail, tmp_path, monkeypatch, capsys):
    out = tmp_path / "archive.jsonl"
    rc, stdout, err = run_cli(
        monkeypatch, capsys, "audit", "archive", "--before", "2025-06-01", "--out", str(out)
    )
    assert rc == 0, err
    assert f"archived {OLD} audit events (#1-#{OLD})" in stdout
    header, *events = lines(out)
    assert header["format"] == audit_archive.FORMAT
    assert [e["id"] for e in events] == list(range(1, OLD + 1))
    assert all(e["action"] == "test.old" for e in events)
    assert events[0]["prev_hash"] == audit.GENESIS
    assert header["last_hash"] == events[-1]["hash"]
    assert header["checkpoint"]["id"] == OLD + NEW  # the head when the archive was taken

    rc, stdout, err = run_cli(monkeypatch, capsys, "audit", "verify-archive", str(out))
    assert rc == 0, stdout + err
    assert f"{OLD} events" in stdout

    # The export changed nothing but add its own audit event; the trail still verifies.
    report = audit.verify(trail.engine, trail.anchor)
    assert report.ok and report.count == OLD + NEW + 1
    with trail.engine.connect() as conn:
        last = conn.exec_driver_sql(
            "SELECT action, details FROM audit_events ORDER BY id DESC LIMIT 1"
        ).one()
    assert last[0] == "audit.archive" and json.loads(last[1])["count"] == OLD


def test_nothing_before_the_cutoff_gives_an_empty_archive_that_verifies(trail, tmp_path):
    out = tmp_path / "empty.jsonl"
    summary = audit_archive.export(
        trail.engine, trail.anchor, datetime(2024, 1, 1, tzinfo=UTC), out
    )
    assert summary.count == 0 and summary.last_id is None
    report = audit_archive.verify_archive(out, trail.anchor, trail.engine)
    assert report.ok and report.count == 0


def test_a_date_that_is_not_a_date_is_refused(trail, tmp_path, monkeypatch, capsys):
    out = tmp_path / "a.jsonl"
    rc, _, err = run_cli(
        monkeypatch, capsys, "audit", "archive", "--before", "March", "--out", str(out)
    )
    assert rc == 2 and "bad date March" in err and "日期无效" in err
    assert not out.exists()


def _archive(trail, tmp_path) -> Path:
    out = tmp_path / "archive.jsonl"
    audit_archive.export(trail.engine, trail.anchor, datetime(2025, 6, 1, tzinfo=UTC), out)
    assert audit_archive.verify_archive(out, trail.anchor, trail.engine).ok
    return out


@pytest.mark.parametrize(
    ("edit", "problem", "broken"),
    [
        pytest.param(
            lambda h, ev: (h, [{**ev[0], "actor": "mallory"}, *ev[1:]]),
            audit_archive.CONTENT,
            1,
            id="event-edited",
        ),
        pytest.param(
            lambda h, ev: (h, [ev[0], *ev[2:]]), audit_archive.MISSING, 3, id="event-removed"
        ),
        pytest.param(lambda h, ev: (h, ev[:-1]), audit_archive.END, OLD, id="tail-cut"),
        pytest.param(
            lambda h, ev: (h, [ev[1], ev[0], *ev[2:]]), audit_archive.START, 2, id="reordered"
        ),
        pytest.param(
            lambda h, ev: ({**h, "last_id": OLD - 1}, ev), audit_archive.UNSIGNED, None, id="header"
        ),
        pytest.param(
            lambda h, ev: ({**h, "checkpoint": {**h["checkpoint"], "id": 1}}, ev),
            audit_archive.UNSIGNED,
            None,
            id="checkpoint",
        ),
    ],
)
def test_a_tampered_archive_fails(trail, tmp_path, monkeypatch, capsys, edit, problem, broken):
    out = _archive(trail, tmp_path)
    header, *events = lines(out)
    write(out, [*[edit(header, events)[0]], *edit(header, events)[1]])
    report = audit_archive.verify_archive(out, trail.anchor, trail.engine)
    assert not report.ok and report.problem == problem and report.broken_id == broken
    rc, stdout, _ = run_cli(monkeypatch, capsys, "audit", "verify-archive", str(out))
    assert rc == 1 and "audit archive does not verify" in stdout and problem in stdout


def test_an_archive_signed_by_another_platform_fails(trail, tmp_path):
    out = _archive(trail, tmp_path)
    other = Anchor(tmp_path / "other.json", b"k" * 32)
    report = audit_archive.verify_archive(out, other)
    assert not report.ok and report.problem == audit_archive.UNSIGNED


def test_an_archive_that_does_not_continue_into_the_database_fails(trail, tmp_path):
    from tests.tamper import tamper

    out = _archive(trail, tmp_path)
    tamper(trail.engine, f"UPDATE audit_events SET prev_hash = '{'f' * 64}' WHERE id = {OLD + 1}")
    report = audit_archive.verify_archive(out, trail.anchor, trail.engine)
    assert not report.ok and report.problem == audit_archive.GAP and report.broken_id == OLD + 1
    assert audit_archive.verify_archive(out, trail.anchor).ok  # alone it still holds


def test_retention_defaults_to_three_years_and_refuses_under_six_months():
    assert settings.build().retention.audit_days == 3 * 365
    assert settings.build(retention={"audit_days": 183}).retention.audit_days == 183
    with pytest.raises(settings.SettingsError) as e:
        settings.build(retention={"audit_days": 182})
    assert "at least six months (183 days)" in e.value.msg.en
    assert "至少保留六个月" in e.value.msg.zh
    doc = settings.document(settings.build(retention={"audit_days": 400}))
    assert settings.load({settings.ENV: doc}).retention.audit_days == 400
