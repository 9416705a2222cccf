"""The audit trail: chained hashes, append-only storage, tamper detection, concurrent writers."""

import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from hub import audit
from tests.tamper import tamper


def _fill(db, n=20):
    with db.session() as s:
        audit.append_many(
            s,
            [
                {"action": "test.event", "actor": f"u{i}", "details": {"i": i, "名": "值"}}
                for i in range(n)
            ],
        )


def test_when_events_are_appended_then_the_chain_verifies(db):
    _fill(db)
    with db.session() as s:
        audit.append(s, "single", actor="x", reason="理由 / reason")
    report = audit.verify(db.engine)
    assert report.ok and report.count == 21 and report.broken_id is None


def test_when_empty_then_the_chain_verifies_with_the_genesis_head(db):
    report = audit.verify(db.engine)
    assert report.ok and report.count == 0 and report.head == audit.GENESIS


@pytest.mark.parametrize(
    "sql",
    ["UPDATE audit_events SET reason = 'x' WHERE id = 3", "DELETE FROM audit_events WHERE id = 3"],
)
def test_when_the_application_updates_or_deletes_an_event_then_the_database_refuses(db, sql):
    _fill(db, 5)
    with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
        conn.execute(text(sql))
    assert audit.verify(db.engine).ok


@pytest.mark.parametrize(
    "sql, problem",
    [
        ("UPDATE audit_events SET outcome = 'allowed' WHERE id = 7", "content"),
        ("UPDATE audit_events SET details = '{\"i\":99}' WHERE id = 7", "content"),
        ("DELETE FROM audit_events WHERE id = 7", "missing"),
        ("UPDATE audit_events SET prev_hash = hash WHERE id = 7", "link"),
    ],
)
def test_when_an_event_is_altered_behind_the_triggers_then_verify_names_it(db, sql, problem):
    _fill(db)
    tamper(db.engine, sql)
    report = audit.verify(db.engine)
    assert not report.ok
    assert report.broken_id in (7, 8)  # a deleted event is noticed at its successor
    assert problem in report.problem


def test_when_an_event_is_rehashed_by_the_attacker_then_its_successor_breaks(db):
    _fill(db)
    with db.engine.connect() as conn:
        row = dict(conn.execute(text("SELECT * FROM audit_events WHERE id = 5")).mappings().one())
    row["reason"] = "forged"
    values = tuple(row[f] for f in audit.FIELDS)
    tamper(
        db.engine,
        "UPDATE audit_events SET reason = 'forged', hash = %(h)s WHERE id = 5"
        if db.engine.dialect.name == "postgresql"
        else "UPDATE audit_events SET reason = 'forged', hash = :h WHERE id = 5",
        h=audit.event_hash(row["prev_hash"], values),
    )
    report = audit.verify(db.engine)
    assert not report.ok and report.broken_id == 6


def test_when_writers_append_concurrently_then_one_unbroken_chain_results(db):
    def writer(k):
        for i in range(25):
            with db.session() as s:
                audit.append(s, "concurrent", actor=f"w{k}", details={"i": i})

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = audit.verify(db.engine)
    assert report.ok and report.count == 100


def test_when_the_callers_transaction_fails_then_its_event_is_not_kept(db):
    with pytest.raises(RuntimeError), db.session() as s:
        audit.append(s, "doomed")
        raise RuntimeError
    assert audit.verify(db.engine).count == 0


@pytest.mark.parametrize("target", [2, 30, 31, 59])
def test_when_verification_is_split_over_workers_then_a_break_anywhere_is_still_named(
    db, monkeypatch, target
):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the parallel path is SQLite's; PostgreSQL verifies in SQL")
    from hub import audit_chain

    monkeypatch.setattr(audit_chain, "PARALLEL_FROM", 10)
    _fill(db, 60)
    assert audit_chain.verify_sqlite(db.engine.url.database, workers=2).ok
    tamper(db.engine, f"UPDATE audit_events SET actor = 'forged' WHERE id = {target}")
    report = audit_chain.verify_sqlite(db.engine.url.database, workers=2)
    assert not report.ok and report.broken_id == target


def test_when_many_threads_write_through_the_group_committer_then_each_gets_its_committed_event(db):
    writer = audit.AuditWriter(db)
    results = []

    def work(k):
        for i in range(50):
            results.append(writer.write("gateway.call", actor=f"t{k}", details={"i": i}))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r["id"] for r in results) == list(range(1, 401))
    report = audit.verify(db.engine)
    assert report.ok and report.count == 400
