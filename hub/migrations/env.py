"""Alembic environment: runs on the connection handed in by :func:`hub.db.engine.migrate`."""

from alembic import context

from hub.db.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from hub.db.engine import make_engine
        from hub.home import default_db_url

        with make_engine(default_db_url()).connect() as connection:
            _run_on(connection)
    else:
        _run_on(connection)


def _run_on(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run()
