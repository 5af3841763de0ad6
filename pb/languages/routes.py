"""Pages for choosing a round's languages and giving its text, and a proposal's, in them."""

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from pb.accounts.models import Role
from pb.accounts.permissions import role_required
from pb.db import db_session
from pb.i18n import language_name
from pb.languages import services
from pb.languages.forms import ProposalTranslationForm, ReasonTranslationForm, RoundLanguagesForm, RoundTranslationForm
from pb.proposals.access import load_proposal_as_group, load_proposal_as_screener
from pb.proposals.services import ProposalError
from pb.refusal import Refusal
from pb.rounds.access import Access, load_round
from pb.views import form_page, show_refusal

bp = Blueprint("languages", __name__)


@bp.route("/rounds/<int:round_id>/languages", methods=["GET", "POST"])
@role_required(Role.ANCHOR_LEAD)
def round_languages(round_id):
    round_, _access = load_round(round_id, Access.CONVENER)
    form = RoundLanguagesForm()
    choices = [(code, language_name(code)) for code in services.site_languages()]
    form.source.choices, form.others.choices = choices, choices
    if request.method == "GET":
        form.source.data, form.others.data = round_.source_locale, round_.translated_into
    if form.validate_on_submit():
        try:
            services.set_round_languages(
                db_session(), round_, actor=current_user, source=form.source.data, others=form.others.data or []
            )
        except (services.LanguageError, Refusal) as error:
            return show_refusal(error, "languages/languages.html", form, round=round_)
        flash(_("The round's languages have been saved."), "success")
        return redirect(url_for("rounds.manage", round_id=round_.id))
    return form_page("languages/languages.html", form, round=round_)


def _translation_page(form, obj, round_, fields, save, back):
    """A page for giving one object's text in one of the round's other languages."""
    offered = round_.translated_into
    form.language.choices = [(code, language_name(code)) for code in offered]
    wanted = request.args.get("language") if request.method == "GET" else form.language.data
    locale = wanted if wanted in offered else (offered[0] if offered else None)
    if request.method == "GET" and locale:
        form.language.data = locale
        given = services.translations_of(db_session(), obj, locale)
        for field in fields:
            getattr(form, field).data = given.get(field, "")
    context = {
        "round": round_,
        "obj": obj,
        "fields": fields,
        "locale": locale,
        "back": back,
        "source": {field: getattr(obj, field) or "" for field in fields},
        "direction": services.direction(locale) if locale else "ltr",
        "source_direction": services.direction(round_.source_locale),
    }
    if form.validate_on_submit():
        try:
            save(form.language.data, {field: getattr(form, field).data or "" for field in fields})
        except (services.LanguageError, ProposalError, Refusal) as error:
            return show_refusal(error, "languages/translate.html", form, **context)
        flash(
            _("The translation into %(language)s has been saved.", language=language_name(form.language.data)),
            "success",
        )
        assert request.endpoint is not None, "a view runs only for a matched URL rule"
        assert request.view_args is not None, "a view runs only for a matched URL rule"
        return redirect(url_for(request.endpoint, **request.view_args, language=form.language.data))
    return form_page("languages/translate.html", form, **context)


@bp.route("/rounds/<int:round_id>/translations", methods=["GET", "POST"])
@role_required(Role.ANCHOR_LEAD)
def round_translations(round_id):
    round_, _access = load_round(round_id, Access.CONVENER)

    def save(locale, texts):
        services.translate_round(db_session(), round_, actor=current_user, locale=locale, texts=texts)

    return _translation_page(
        RoundTranslationForm(),
        round_,
        round_,
        list(services.ROUND_FIELDS),
        save,
        url_for("rounds.manage", round_id=round_.id),
    )


@bp.route("/proposals/<int:proposal_id>/translations", methods=["GET", "POST"])
@login_required
def proposal_translations(proposal_id):
    proposal, round_ = load_proposal_as_group(proposal_id)

    def save(locale, texts):
        services.translate_proposal(db_session(), proposal, actor=current_user, locale=locale, texts=texts)

    return _translation_page(
        ProposalTranslationForm(),
        proposal,
        round_,
        list(services.PROPOSAL_FIELDS),
        save,
        url_for("proposals.show", proposal_id=proposal.id),
    )


@bp.route("/proposals/<int:proposal_id>/reason-translations", methods=["GET", "POST"])
@login_required
def reason_translations(proposal_id):
    proposal, round_ = load_proposal_as_screener(proposal_id)

    def save(locale, texts):
        services.translate_screening_reason(
            db_session(), proposal, actor=current_user, locale=locale, text=texts["screening_reason"]
        )

    return _translation_page(
        ReasonTranslationForm(),
        proposal,
        round_,
        list(services.REASON_FIELDS),
        save,
        url_for("proposals.show", proposal_id=proposal.id),
    )
