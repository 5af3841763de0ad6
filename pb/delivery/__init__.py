"""After the vote: funded groups report delivery, residents give their verdicts, and
anyone can see what happened to the money."""


def configure_delivery(app) -> None:
    from pb.delivery.routes import bp

    app.register_blueprint(bp)
