"""Site-wide pages (home, privacy, accessibility), the language switch and error pages."""

import re
from typing import NoReturn

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from pb.db import db_session
from pb.i18n import LOCALE_COOKIE
from pb.links import public_url
from pb.refusal import Refusal
from pb.security import safe_next

bp = Blueprint("pages", __name__)


@bp.route("/")
def index():
    """First what residents can do now: rounds open for voting, then those taking proposals."""
    from sqlmodel import col, select

    from pb.rounds.models import Phase, Round

    session = db_session()
    open_now = session.exec(
        select(Round)
        .where(col(Round.phase).in_([Phase.VOTING.value, Phase.PROPOSALS_OPEN.value]))
        .order_by(col(Round.voting_closes_at), col(Round.id))
    ).all()
    return render_template(
        "pages/index.html",
        voting=[r for r in open_now if r.phase == Phase.VOTING.value],
        proposing=[r for r in open_now if r.phase == Phase.PROPOSALS_OPEN.value],
    )


@bp.route("/privacy")
def privacy():
    from pb import statements

    return render_template(
        "pages/privacy.html",
        purposes=statements.purposes(),
        retention=statements.retention(),
        processors=statements.processors(),
    )


@bp.route("/accessibility")
def accessibility():
    from pb import statements

    return render_template(
        "pages/accessibility.html",
        problems=statements.known_accessibility_problems(),
        tested_on=statements.tested_on(),
        site=public_url("pages.index"),
    )


@bp.route("/language", methods=["POST"])
def choose_language():
    code = request.form.get("language", "")
    target = safe_next(request.form.get("next"), url_for("pages.index"))
    if code not in current_app.config["LANGUAGES"]:
        return render_error(400, _("That language is not offered."))
    if current_user.is_authenticated:
        current_user.locale = code
        db_session().add(current_user)
    response = make_response(redirect(target))
    response.set_cookie(
        LOCALE_COOKIE,
        code,
        max_age=365 * 24 * 3600,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )
    return response


def error_list(form, named: bool = False) -> list[tuple[str, str]]:
    """Every error of a form as (field id, message), including those of nested rows.

    `named`: each message says which field it is about ("Title: This field is required.",
    "Cost (line 2): ..."), as an error summary at the top of a page must: it is read far
    from the field."""
    found = []

    def say(field, message, line):
        if not named:
            return message
        label = field.label.text
        if line is not None:
            label = _("%(field)s (line %(line)d)", field=label, line=line)
        return _("%(field)s: %(message)s", field=label, message=message)

    def walk(field, line=None):
        if hasattr(field, "entries"):  # a list of rows
            for message in field.errors:
                if not isinstance(message, dict):
                    found.append((field.id, say(field, message, None)))
            for number, entry in enumerate(field.entries, start=1):
                walk(entry, number)
        elif hasattr(field, "form") and hasattr(field.form, "_fields"):  # one row of fields
            for sub in field.form:
                walk(sub, line)
        else:
            for message in field.errors:
                found.append((field.id, say(field, message, line)))

    for field in form:
        walk(field)
    return found


def csv_download(filename: str, header: list[str], rows) -> Response:
    """A spreadsheet download: UTF-8 with a byte-order mark (so Excel reads names in any
    script), and no cell a spreadsheet would run as a formula. Never cached."""
    import csv
    import io

    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, quoting=csv.QUOTE_ALL)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_inert(cell) for cell in row])
    response = make_response(out.getvalue())
    response.mimetype = "text/csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _inert(cell):
    """A cell as text a spreadsheet shows rather than runs: a leading =, +, -, @, tab or CR
    would start a formula, and so would one after a ; or , where a spreadsheet set to split
    on that character (as in Polish or Romanian) cuts the cell there."""
    text = "" if cell is None else str(cell)
    text = re.sub(rf"([;,])([{re.escape(FORMULA_STARTS)}])", r"\1'\2", text)
    return "'" + text if text[:1] and text[0] in FORMULA_STARTS else text


FORMULA_STARTS = "=+-@\t\r"  # a cell beginning with one of these, a spreadsheet runs


def form_page(template: str, form, **context):
    """Render a form page: 200 when first shown; a submission with errors is answered
    400 and changes nothing (see `refuse`)."""
    page = render_template(template, form=form, **context)
    if form.errors:
        refuse((page, 400))
    return page, 200


def show_refusal(error: Exception, template: str, form, **context) -> NoReturn:
    """Show why a submission was refused, on the form it came from, with the error's
    status (400 unless it says otherwise); nothing the request did is kept (see `refuse`)."""
    refuse((render_template(template, form=form, refusal=str(error), **context), getattr(error, "status", 400)), error)


def refuse(page, error: Exception | None = None) -> NoReturn:
    """End the request with `page` (a response, or what a view may return), undoing all it
    wrote: the unit of work (pb.db) rolls back a request whose view raises. A `Refusal`
    given as `error` is raised with the page, so that its record is kept (pb.refusal)."""
    response = make_response(page)
    if isinstance(error, Refusal):
        error.response = response
        raise error
    abort(response)


def account_named_in(field):
    """The user whose email address was typed in `field` (appointing someone to a role),
    or None, with the reason on the field."""
    from pb.accounts.services import find_user

    user = find_user(db_session(), field.data)
    if user is None:
        field.errors.append(_("No account uses this address. Ask them to sign up first."))
    return user


def render_error(status: int, message: str | None = None):
    from flask import request as current_request

    if getattr(current_request, "url_rule", None) is None and _untrusted_host():
        # A request for a host pb does not serve (PB_BASE_URL): no page, and no link to anywhere.
        return make_response(
            _("This site does not answer to that address."), 400, {"Content-Type": "text/plain; charset=utf-8"}
        )
    return render_template("pages/error.html", status=status, message=message), status


def _untrusted_host() -> bool:
    from werkzeug.exceptions import SecurityError

    try:
        request.host  # noqa: B018 (checks it against TRUSTED_HOSTS)
    except SecurityError:
        return True
    return False


ERROR_MESSAGES = {
    400: lambda: _("The request could not be understood. Please go back and try again."),
    403: lambda: _("You do not have permission to see this page."),
    404: lambda: _("We could not find that page."),
    405: lambda: _("That action is not possible here."),
    413: lambda: _("What you sent is too large."),
    429: lambda: _("Too many attempts. Please wait a while and try again."),
    500: lambda: _("Something went wrong on our side. Nothing you sent has been saved. Please try again."),
}


def _static_versions(app):
    """Each static file's URL carries a fingerprint of its content (?v=...), so phones may
    keep it for a year and still get a new version the moment it changes."""
    import hashlib
    import os

    versions: dict[str, str | None] = {}

    @app.url_defaults
    def _fingerprint(endpoint, values):
        if endpoint != "static" or "filename" not in values or "v" in values:
            return
        name = values["filename"]
        if name not in versions:
            try:
                with open(os.path.join(app.static_folder, name), "rb") as f:
                    versions[name] = hashlib.sha256(f.read()).hexdigest()[:12]
            except OSError:
                versions[name] = None
        if versions[name]:
            values["v"] = versions[name]


def configure_views(app) -> None:
    app.register_blueprint(bp)
    _static_versions(app)
    app.jinja_env.globals["error_list"] = error_list
    app.jinja_env.globals["public_url"] = public_url

    @app.route("/favicon.ico")
    def favicon():
        return app.send_static_file("favicon.svg"), 200, {"Content-Type": "image/svg+xml"}

    @app.errorhandler(CSRFError)
    def _csrf_error(error):
        return render_error(
            400,
            _("This form has expired or was not sent from this site. Please go back, reload the page and try again."),
        )

    @app.errorhandler(HTTPException)
    def _http_error(error):
        message = ERROR_MESSAGES.get(error.code)
        return render_error(error.code or 500, message() if message else error.description)

    @app.errorhandler(Refusal)
    def _refusal(error):
        # The request's work is undone and the refusal recorded already (pb.db).
        return error.response if error.response is not None else render_error(error.status, str(error))

    @app.errorhandler(Exception)
    def _server_error(error):
        # The request's work is rolled back already (pb.db).
        app.logger.exception("unhandled error")
        return render_error(500, ERROR_MESSAGES[500]())
