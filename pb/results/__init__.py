"""Results: the count at close, the published outcome, open data and public checks."""


def configure_results(app) -> None:
    from pb.results.routes import bp

    app.register_blueprint(bp)
