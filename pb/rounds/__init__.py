"""Rounds: anchors set up a round together; it freezes when voting opens."""


def configure_rounds(app) -> None:
    from pb.rounds.models import PHASE_LABELS, RULE_NAMES, RULES, Phase
    from pb.rounds.routes import bp

    app.register_blueprint(bp)
    app.jinja_env.globals["counting_rules"] = RULES
    app.jinja_env.filters["rule_name"] = lambda rule: RULE_NAMES.get(rule, rule)
    app.jinja_env.filters["phase_label"] = lambda phase: PHASE_LABELS[Phase(phase)]
