"""For gunicorn: `gunicorn wsgi:app`. Refuses to start, with a one-line reason, on a
database whose schema is not the one this code was written for (run `pb db upgrade`
first; a schema from a newer pb means the wrong version is installed)."""

from pb import create_app
from pb.db import get_engine
from pb.migrate import SchemaError, schema_problem

app = create_app()
with app.app_context():
    problem = schema_problem(get_engine())
if problem:
    raise SchemaError(f"pb will not start: {problem}")
