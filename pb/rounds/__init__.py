"""Rounds: anchors set up a round together; it freezes when voting opens."""


def configure_rounds(app) -> None:
    from pb.rounds.help import ballot_languages
    from pb.rounds.models import PHASE_LABELS, RULE_NAMES, RULES, Phase
    from pb.rounds.routes import bp

    app.register_blueprint(bp)
    app.jinja_env.globals["counting_rules"] = RULES
    app.jinja_env.globals["round_help"] = _round_help
    app.jinja_env.globals["ballot_languages"] = ballot_languages
    app.jinja_env.filters["rule_name"] = lambda rule: RULE_NAMES.get(rule, rule)
    app.jinja_env.filters["phase_label"] = lambda phase: PHASE_LABELS[Phase(phase)]


def _round_help(round_):
    """A round's contact, questions and paper-voting places, for any page that shows the round."""
    from pb.db import db_session
    from pb.rounds.help import help_of

    return help_of(db_session(), round_)
