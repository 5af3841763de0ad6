"""Proposals: community groups propose costed projects; screening is public and reasoned."""


def configure_proposals(app) -> None:
    from pb.proposals.routes import bp

    app.register_blueprint(bp)
