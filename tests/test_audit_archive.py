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


def _prune_env(monkeypatch, days: int = 183) -> None:
    doc = settings.document(settings.build(retention={"audit_days": days}))
    monkeypatch.setenv(settings.ENV, doc)


def ids(db) -> list[int]:
    with db.engine.connect() as conn:
        return [r[0] for r in conn.exec_driver_sql("SELECT id FROM audit_events ORDER BY id")]


def test_archive_verify_prune_and_the_chain_in_the_db_still_verifies(
    trail, tmp_path, monkeypatch, capsys
):
    _prune_env(monkeypatch)
    out = tmp_path / "archive.jsonl"
    cli = lambda *a: run_cli(monkeypatch, capsys, *a)  # noqa: E731
    assert cli("audit", "archive", "--before", "2025-06-01", "--out", str(out))[0] == 0
    assert cli("audit", "verify-archive", str(out))[0] == 0
    rc, stdout, err = cli("audit", "prune", "--archive", str(out))
    assert rc == 0, err
    assert f"pruned {OLD} archived events past retention (183 days) (#1-#{OLD})" in stdout
    assert ids(trail) == list(range(OLD + 1, OLD + NEW + 3))  # + the archive and prune events

    report = audit.verify(trail.engine, trail.anchor)
    assert report.ok and report.base == OLD and report.count == NEW + 2
    rc, stdout, _ = cli("audit", "verify")
    assert rc == 0 and f"audit chain holds: {NEW + 2} events" in stdout
    # The archive still proves the pruned events and that the DB's trail continues from them.
    rc, stdout, _ = cli("audit", "verify-archive", str(out))
    assert rc == 0, stdout
    # Without the signed base the trail in the DB does not reach back to the genesis hash.
    assert not audit.verify(trail.engine).ok
    # Pruning again removes nothing more: what is left is younger than retention.
    rc, stdout, _ = cli("audit", "prune", "--archive", str(out))
    assert rc == 0 and "nothing deleted" in stdout
    # Appending still chains on.
    with trail.session() as s:
        audit.append(s, "test.after")
    assert audit.verify(trail.engine, trail.anchor).ok


def test_events_younger_than_retention_are_never_pruned(trail, tmp_path, monkeypatch, capsys):
    _prune_env(monkeypatch)
    out = tmp_path / "all.jsonl"
    summary = audit_archive.export(
        trail.engine, trail.anchor, datetime(2099, 1, 1, tzinfo=UTC), out
    )
    assert summary.count == OLD + NEW  # every event is archived ...
    pruned = audit_archive.prune(trail, out, 183, "test")
    assert (pruned.first_id, pruned.last_id) == (1, OLD)  # ... only those past retention go
    assert ids(trail)[:NEW] == list(range(OLD + 1, OLD + NEW + 1))
    assert audit.verify(trail.engine, trail.anchor).ok
    # With the default three years, events of January 2025 are kept.
    out2 = tmp_path / "again.jsonl"
    audit_archive.export(trail.engine, trail.anchor, datetime(2099, 1, 1, tzinfo=UTC), out2)
    assert audit_archive.prune(trail, out2, 3 * 365, "test").count == 0


def test_a_tampered_archive_is_not_pruned_from(trail, tmp_path, monkeypatch, capsys):
    _prune_env(monkeypatch)
    out = _archive(trail, tmp_path)
    header, *events = lines(out)
    write(out, [header, {**events[0], "reason": "edited"}, *events[1:]])
    before = ids(trail)
    rc, _, err = run_cli(monkeypatch, capsys, "audit", "prune", "--archive", str(out))
    assert rc == 2 and "nothing deleted" in err and "归档未通过校验" in err
    assert ids(trail) == before


def test_after_pruning_cutting_the_oldest_remaining_event_or_forging_the_base_is_detected(
    trail, tmp_path
):
    from tests.tamper import tamper

    out = _archive(trail, tmp_path)
    audit_archive.prune(trail, out, 183, "test")
    assert audit.verify(trail.engine, trail.anchor).ok
    tamper(trail.engine, f"DELETE FROM audit_events WHERE id = {OLD + 1}")
    report = audit.verify(trail.engine, trail.anchor)
    assert not report.ok and report.broken_id == OLD + 2
    base = trail.anchor.base_path
    data = json.loads(base.read_text())
    data["bases"][0]["id"] = OLD + 1  # claim the cut event was pruned too
    base.write_text(json.dumps(data))
    report = audit.verify(trail.engine, trail.anchor)
    assert not report.ok and report.problem == audit.FORGED_BASE
