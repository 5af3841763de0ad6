"""Notices: telling people what concerns them, by email through the outbox.

Groups hear of screening decisions and of their projects on the ballot and in the
results; partner anchors that they were invited; screeners and returning officers that
they were appointed; residents who asked (and confirmed) that voting opened, is about
to close, that results are out and that projects were delivered. pb.notices.services is
the one place these messages are written."""


def configure_notices(app) -> None:
    from pb.notices.routes import bp

    app.register_blueprint(bp)
