"""A refusal: an action refused for a reason the person should read, whose attempt is kept.

Raising a `Refusal` undoes everything the request (or CLI command) did, like any error,
and the unit of work (pb.db) keeps what the refusal carries in `record`: an audit event
("round.change_refused"), or the count of a wrong guess at a code that rate limits read.
Whoever raises it should write nothing first: the record is then written in the very
transaction whose check refused, under its locks (pb.db._end_work).
"""

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlmodel import Session

if TYPE_CHECKING:
    from flask import Response


class Refusal(Exception):
    """An action refused; `record(session)` writes what must be kept of the attempt.

    `response`, when set (pb.views.refuse), is the page that says why; otherwise the
    error page shows the message with `status`."""

    status = 409

    def __init__(self, message: str, *, record: Callable[[Session], object] | None = None):
        super().__init__(message)
        self.record = record
        self.response: Response | None = None
