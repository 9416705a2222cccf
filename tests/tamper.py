"""What an attacker with direct database access would do to the audit trail."""

from sqlalchemy import Engine


def tamper(engine: Engine, sql: str, **params) -> None:
    """Run ``sql`` against audit_events with the append-only triggers bypassed, as a DB superuser could."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        else:
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_events_no_update")
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_events_no_delete")
        conn.exec_driver_sql(sql, params)
