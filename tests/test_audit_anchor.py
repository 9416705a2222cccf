"""The audit chain's head anchored outside the database: cutting or rewriting the tail behind the
triggers, as a database superuser could, is detected; so is a forged checkpoint."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from hub import audit
from hub.audit_anchor import FORGED, REWRITTEN, TRUNCATED, Anchor
from hub.db.engine import Database
from hub.web import admin_views
from tests.tamper import tamper


@pytest.fixture
def anchored(db_url: str, tmp_path: Path):
    database = Database(db_url, anchor=Anchor.for_home(tmp_path / "home"))
    yield database
    database.dispose()


def fill(db: Database, n: int, first: int = 0) -> None:
    for i in range(first, first + n):
        with db.session() as s:
            audit.append(s, "test.event", actor=f"u{i}", details={"i": i})


def test_when_the_tail_is_cut_behind_the_triggers_then_only_the_anchor_notices(anchored):
    fill(anchored, 20)
    assert audit.verify(anchored.engine, anchored.anchor).ok
    tamper(anchored.engine, "DELETE FROM audit_events WHERE id > 15")
    assert audit.verify(anchored.engine).ok  # the chain alone still links up
    report = audit.verify(anchored.engine, anchored.anchor)
    assert not report.ok and report.broken_id == 16 and report.problem == TRUNCATED


def test_when_the_tail_is_replaced_by_forged_events_then_the_checkpoint_does_not_match(anchored):
    fill(anchored, 12)
    tamper(anchored.engine, "DELETE FROM audit_events WHERE id > 9")
    plain = Database(anchored.url, upgrade=False)  # the attacker's own writer: no anchor key
    try:
        fill(plain, 3, first=100)  # ids 10..12 again, correctly chained, other content
    finally:
        plain.dispose()
    assert audit.verify(anchored.engine).ok
    report = audit.verify(anchored.engine, anchored.anchor)
    assert not report.ok and report.broken_id == 12 and report.problem == REWRITTEN


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda p: {**p, "id": p["id"] - 5}, id="checkpoint-moved-back"),
        pytest.param(lambda p: {**p, "hash": "0" * 64}, id="hash-replaced"),
        pytest.param(lambda p: {"garbage": True}, id="fields-missing"),
    ],
)
def test_when_the_checkpoint_file_is_edited_without_the_key_then_verify_fails(anchored, edit):
    fill(anchored, 10)
    path = anchored.anchor.path
    path.write_text(json.dumps(edit(json.loads(path.read_text()))))
    report = audit.verify(anchored.engine, anchored.anchor)
    assert not report.ok and report.problem == FORGED


def test_when_a_transaction_rolls_back_then_the_checkpoint_does_not_move(anchored):
    fill(anchored, 3)
    with pytest.raises(RuntimeError), anchored.session() as s:
        audit.append(s, "doomed")
        raise RuntimeError
    point, signed = anchored.anchor.read()
    assert signed and point.id == 3
    assert audit.verify(anchored.engine, anchored.anchor).ok


def test_when_writers_commit_concurrently_then_the_checkpoint_ends_at_the_head(anchored):
    threads = [threading.Thread(target=fill, args=(anchored, 15, 100 * k)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = audit.verify(anchored.engine, anchored.anchor)
    point, _ = anchored.anchor.read()
    assert report.ok and report.count == 60 and (point.id, point.hash) == (60, report.head)


def test_when_the_trail_is_exported_as_json_then_it_carries_the_signed_checkpoint(anchored):
    fill(anchored, 4)
    point, _ = anchored.anchor.read()
    with anchored.session() as s:
        data = json.loads(admin_views.export(s, {}, "json", point))
    assert data["checkpoint"] == point.as_dict() and data["events"][-1]["hash"] == point.hash


def test_when_an_auditor_verifies_against_a_kept_export_then_a_later_cut_is_named(
    cli, shuyu_home, db_url, tmp_path
):
    assert cli("department", "add", "--name", "市交通运输局")[0] == 0
    assert cli("department", "add", "--name", "市医疗保障局")[0] == 0
    db = Database(db_url, upgrade=False, anchor=Anchor.for_home(shuyu_home))
    try:
        point, signed = db.anchor.read()
        assert signed and point is not None
        with db.session() as s:
            kept = tmp_path / "kept.json"
            kept.write_text(admin_views.export(s, {}, "json", point), encoding="utf-8")
        assert cli("audit", "verify", "--against", str(kept))[0] == 0
        with db.engine.connect() as conn:
            last = conn.execute(text("SELECT max(id) FROM audit_events")).scalar()
        tamper(db.engine, f"DELETE FROM audit_events WHERE id = {last}")
        rc, out, _ = cli("audit", "verify")
        assert rc != 0 and f"#{last}" in out and "checkpoint" in out
        # Even with the anchor file rolled back by the same attacker, the kept export holds.
        db.anchor.path.unlink()
        rc, out, _ = cli("audit", "verify", "--against", str(kept))
        assert rc != 0 and f"#{last}" in out
    finally:
        db.dispose()


@pytest.mark.parametrize(
    "content, says",
    [
        ("not json", "no signed checkpoint"),
        ('{"events": []}', "no signed checkpoint"),
        ('{"checkpoint": {"id": 1, "hash": "a", "ts": "t", "mac": "00"}}', "not this platform's"),
    ],
)
def test_when_the_kept_export_is_bad_then_the_cli_says_why_and_changes_nothing(
    cli, tmp_path, content, says
):
    kept = tmp_path / "kept.json"
    kept.write_text(content)
    rc, out, err = cli("audit", "verify", "--against", str(kept))
    assert rc != 0 and says in out + err and "Traceback" not in out + err


def test_when_writers_append_while_an_auditor_verifies_then_verify_never_cries_wolf(anchored):
    """The checkpoint may move past the chain an auditor is reading: it is read first."""
    fill(anchored, 5)
    done = threading.Event()

    def writer():
        i = 0
        while not done.is_set():
            fill(anchored, 1, first=1000 + i)
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        reports = [audit.verify(anchored.engine, anchored.anchor) for _ in range(30)]
    finally:
        done.set()
        thread.join()
    assert all(r.ok for r in reports), [r.problem for r in reports if not r.ok]
    assert reports[-1].count > 5


def test_when_a_caller_holds_a_transaction_then_verify_still_reads_the_checkpointed_event(
    anchored,
):
    """Verification takes no write lock: on SQLite a second ``BEGIN IMMEDIATE`` behind the
    caller's own open transaction would wait out the busy timeout and fail."""
    fill(anchored, 3)
    with anchored.session() as s:
        audit.append(s, "test.pending", actor="writer")
        report = audit.verify(anchored.engine, anchored.anchor)
    assert report.ok and report.count == 3
