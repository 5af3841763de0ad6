"""The tamper-evident audit log of every action by anchors, screeners and admins."""


def configure_audit(app) -> None:
    from pb.audit.routes import bp

    app.register_blueprint(bp)
