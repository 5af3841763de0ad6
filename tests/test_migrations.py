"""The migrations build exactly the schema the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import pb.models  # noqa: F401
from pb.db import metadata


def test_migrated_schema_matches_models(app):
    engine = app.extensions["pb_engine"]
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_projects_already_on_a_ballot_keep_their_order_through_the_ballot_order_migration(app, db, make_user):
    """Rounds that opened voting before the order was drawn keep the order their projects
    were listed in until then (by project number), so their files recount byte for byte."""
    from alembic import command
    from sqlalchemy import inspect, text

    from pb.migrate import alembic_config
    from tests.factories import make_round, open_voting

    make_user("lead@council.example", organisation="Eastshire Council", kind="anchor")
    make_user("chair@park.example", organisation="Friends of the Park", kind="group")
    ids = make_round(app, db, convener="lead@council.example", anchor="Eastshire Council")
    open_voting(
        app,
        db,
        ids,
        convener="lead@council.example",
        screener="lead@council.example",
        member="chair@park.example",
        group="Friends of the Park",
        per_contest=4,
    )
    engine = app.extensions["pb_engine"]
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    command.downgrade(alembic_config(url), "9b1d2e7c4a10")
    with engine.connect() as connection:
        assert "ballot_position" not in {c["name"] for c in inspect(connection).get_columns("project")}
    command.upgrade(alembic_config(url), "head")
    engine.dispose()
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT contest_id, id, ballot_position FROM project ORDER BY contest_id, id")
        ).all()
        indexes = {i["name"]: i for i in inspect(connection).get_indexes("project")}
    assert len(rows) == 8
    for contest_id in ids["contests"].values():
        assert [position for cid, _id, position in rows if cid == contest_id] == [1, 2, 3, 4]
    assert indexes["uq_project_contest_id_ballot_position"]["unique"]
