"""Who may answer and moderate a question on a proposal: object-level checks, on top of
the role decorator (the loaders' shape is described in pb.rounds.access)."""

from flask import abort

from pb.db import db_session
from pb.proposals.access import is_group_member, load_proposal
from pb.proposals.models import Proposal
from pb.questions.models import ProposalQuestion
from pb.rounds.access import Access, load_round
from pb.rounds.models import Round


def load_question(question_id: int) -> tuple[ProposalQuestion, Proposal, Round]:
    """A confirmed question on a proposal the current user may read, with the proposal and
    its round; else 404 (a question still waiting for its emailed code is nobody's to see)."""
    question = db_session().get(ProposalQuestion, question_id)
    if question is None or question.confirmed_at is None:
        abort(404)
    proposal, round_ = load_proposal(question.proposal_id)
    return question, proposal, round_


def load_question_as_group(question_id: int) -> tuple[ProposalQuestion, Proposal, Round]:
    """A question, for the members of the group that made the proposal (who answer it); else 404 or 403."""
    question, proposal, round_ = load_question(question_id)
    if not is_group_member(proposal):
        abort(403)
    return question, proposal, round_


def load_question_as_convener(question_id: int) -> tuple[ProposalQuestion, Proposal, Round]:
    """A question, for the leads of the round's convening anchor (who moderate); else 404 or 403."""
    question, proposal, round_ = load_question(question_id)
    load_round(round_.id, Access.CONVENER)
    return question, proposal, round_
