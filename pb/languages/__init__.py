"""Round and project text in each language a round offers: who gives it, when it
freezes, and the one helper (`localised`) every page uses to show it."""


def configure_languages(app) -> None:
    from pb.languages.routes import bp
    from pb.languages.services import localised

    app.register_blueprint(bp)
    app.jinja_env.globals["localised"] = localised
