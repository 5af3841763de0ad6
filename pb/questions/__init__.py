"""Residents' questions on proposals before the vote, answered in public by the groups
that made them and moderated by the convening anchor."""


def configure_questions(app) -> None:
    from pb.questions.routes import bp

    app.register_blueprint(bp)
