"""pb: participatory budgeting that local people control and anyone can check."""

import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def create_app(test_config=None):
    # Imported here, not at the top: `pb.tally` must load without Flask (fast `pb tally`).
    from pb.db import App  # Flask, with the unit of work's hold on errors (pb.db)

    app = App(
        __name__,
        instance_path=(test_config or {}).get("INSTANCE_PATH")
        or os.environ.get("PB_INSTANCE_PATH")
        or os.path.join(ROOT, "instance"),
        instance_relative_config=True,
        template_folder=os.path.join(ROOT, "templates"),
        static_folder=os.path.join(ROOT, "static"),
    )
    os.makedirs(app.instance_path, exist_ok=True)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    from pb.config import load_config

    load_config(app, test_config)

    from pb import db, i18n, ids, lifecycle, logs, mail, operations, security, views
    from pb.accounts import configure_accounts
    from pb.audit import configure_audit
    from pb.delivery import configure_delivery
    from pb.equality import configure_equality
    from pb.languages import configure_languages
    from pb.notices import configure_notices
    from pb.proposals import configure_proposals
    from pb.questions import configure_questions
    from pb.reports import configure_reports
    from pb.results import configure_results
    from pb.rounds import configure_rounds
    from pb.voting import configure_voting

    logs.configure_logging(app)  # first: its request id and timer start before any other hook
    db.configure_db(app)
    ids.configure_ids(app)
    security.configure_security(app)
    i18n.configure_i18n(app)
    mail.configure_mail(app)
    lifecycle.configure_lifecycle(app)
    configure_accounts(app)
    configure_audit(app)
    configure_rounds(app)
    configure_proposals(app)
    configure_questions(app)
    configure_languages(app)
    configure_voting(app)
    configure_equality(app)
    configure_results(app)
    configure_delivery(app)
    configure_reports(app)
    configure_notices(app)
    views.configure_views(app)
    operations.configure_operations(app)
    return app
