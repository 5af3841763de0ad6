"""Equality monitoring: optional questions asked after a resident votes, counted apart from
ballots and voters, and published as figures with small numbers suppressed."""


def configure_equality(app) -> None:
    from pb.equality.routes import bp

    app.register_blueprint(bp)
