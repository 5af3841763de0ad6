"""Voting: residents prove they may vote, fill in their ballot papers and get receipts."""


def configure_voting(app) -> None:
    from pb.voting.routes import bp

    app.register_blueprint(bp)
