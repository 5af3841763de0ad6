"""Who may see a funded project, report on its delivery and moderate residents' comments:
object-level checks, on top of the role decorator (the loaders' shape is described in
pb.rounds.access)."""

from flask import abort
from flask_login import current_user

from pb.db import db_session
from pb.delivery import services
from pb.delivery.models import Verdict
from pb.proposals.models import Project
from pb.rounds.access import Access, load_round
from pb.rounds.models import Contest, Round


def load_project(project_id: int) -> tuple[Project, Round]:
    """A funded project of a round whose results are published, and its round; else 404."""
    db = db_session()
    project = db.get(Project, project_id)
    if project is None:
        abort(404)
    round_, _access = load_round(db.get_one(Contest, project.contest_id).round_id)
    if not services.is_funded(db, project):
        abort(404)
    return project, round_


def load_project_as_group(project_id: int) -> tuple[Project, Round]:
    """A funded project, and its round, for the members of the group that proposed it (who
    report on its delivery); else 404 or 403."""
    project, round_ = load_project(project_id)
    if not services.can_report(db_session(), project, current_user):
        abort(403)
    return project, round_


def load_verdict_as_convener(verdict_id: int) -> tuple[Verdict, Project, Round]:
    """A resident's verdict, its project and round, for the leads of the round's convening
    anchor (who moderate the comments); else 404 or 403."""
    db = db_session()
    verdict = db.get(Verdict, verdict_id)
    if verdict is None:
        abort(404)
    project = db.get_one(Project, verdict.project_id)
    round_, _access = load_round(db.get_one(Contest, project.contest_id).round_id, Access.CONVENER)
    return verdict, project, round_
