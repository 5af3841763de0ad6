"""Reports: what happened to a round's money, and an anchor's record across its rounds."""


def configure_reports(app) -> None:
    from pb.reports.routes import bp

    app.register_blueprint(bp)
