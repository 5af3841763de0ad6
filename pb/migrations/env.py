"""Alembic environment: migrates the database of the app that runs `pb db upgrade`."""

from alembic import context

import pb.models  # noqa: F401  (registers every table on the metadata)
from pb.db import metadata

config = context.config


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from pb.db import make_engine

        url = config.get_main_option("sqlalchemy.url")
        assert url is not None, "pb.migrate.alembic_config always sets it"
        engine = make_engine(url)
        with engine.connect() as connection:
            _run(connection)
        engine.dispose()
    else:
        _run(connection)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
