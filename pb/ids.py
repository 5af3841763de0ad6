"""Row ids as they arrive from the web: in a URL's path (`<int:...>`) or its query string.

Row ids are 32-bit integers in PostgreSQL. A larger number names no row: it is answered
as "not found" instead of reaching the database.
"""

from flask import request
from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """`<int:...>` in our URLs: a whole number from 0 up to MAX_ID."""

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):
        super().__init__(map, fixed_digits, min, MAX_ID if max is None else max, signed)


def id_arg(name: str) -> int | None:
    """A row id from the query string, or None when it is missing or cannot be one."""
    value = request.args.get(name, type=int)
    return value if value is not None and 0 < value <= MAX_ID else None


def configure_ids(app) -> None:
    # Before any blueprint adds its rules: a rule takes its converters when it is added.
    app.url_map.converters["int"] = IdConverter
