"""Residents' news of a round: ask for it, confirm it from the mailed link, stop it.

None of these pages needs an account, and none touches voting: the form on the receipt
page posts here, in a request of its own, and nothing is kept until the address's owner
confirms from their inbox."""

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from pb.db import db_session
from pb.notices import services
from pb.notices.forms import ConfirmForm, StopForm, SubscribeForm
from pb.rounds.access import load_round
from pb.rounds.models import Round
from pb.throttle import may_mail
from pb.views import form_page

bp = Blueprint("notices", __name__)


@bp.route("/rounds/<int:round_id>/news", methods=["GET", "POST"])
def subscribe(round_id):
    """Ask to be told when voting opens and the results are out. The answer is the same
    whether the address is new, already subscribed, or over its limit."""
    round_, _access = load_round(round_id)
    if not services.takes_subscriptions(round_):
        abort(404)
    form = SubscribeForm()
    if form.validate_on_submit():
        session = db_session()
        email = services.normalise(form.email.data)
        if may_mail(session, "notice-mail", email):
            services.ask_to_confirm(session, round_, email)
        flash(
            _(
                "If %(email)s can receive email, a link to confirm is on its way. Nothing is kept until you open it.",
                email=email,
            ),
            "info",
        )
        return redirect(url_for("rounds.show", round_id=round_.id))
    return form_page("notices/subscribe.html", form, round=round_)


@bp.route("/news/confirm/<token>", methods=["GET", "POST"])
def confirm(token):
    """From the mailed link: one button keeps the address (a link scanner's GET keeps nothing)."""
    session = db_session()
    found = services.subscription_for_confirm_token(session, token)
    if found is None:
        return render_template("notices/invalid.html"), 404
    round_, email, locale = found
    form = ConfirmForm()
    if form.validate_on_submit():
        services.subscribe(session, round_, email, locale)
        flash(_("Done: we will email %(email)s news of this round.", email=email), "success")
        return redirect(url_for("rounds.show", round_id=round_.id))
    return form_page("notices/confirm.html", form, round=round_, email=email)


@bp.route("/news/stop/<token>", methods=["GET", "POST"])
def stop(token):
    """From any message to a resident: stop news of this round, or of every round."""
    found = services.subscription_for_stop_token(token)
    if found is None:
        return render_template("notices/invalid.html"), 404
    round_id, email = found
    session = db_session()
    round_ = session.get(Round, round_id)
    form = StopForm()
    if form.validate_on_submit():
        services.unsubscribe(session, email, round_id if form.scope.data == "round" else None)
        return render_template("notices/stopped.html", email=email, everything=form.scope.data == "all")
    return form_page("notices/stop.html", form, round=round_, email=email)
