"""A round's languages, the translations of its text and its proposals' text, and how a
page chooses which to show.

A translated field freezes exactly when the field it translates does: a round's title
and purpose may be corrected (and so translated) at any time, its eligibility freezes
when voting opens; a proposal's translations follow the proposal (pb.proposals.services),
so what residents vote on, in every language, is fixed when voting opens. The list of
languages a round offers freezes then too.

Each operation flushes and audits; the request commits.
"""

from dataclasses import dataclass

from babel import Locale
from flask import current_app, g
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup, escape
from sqlmodel import Session, select

from pb.accounts.models import Organisation, User
from pb.accounts.services import is_member_of
from pb.i18n import language_name
from pb.languages.models import ProposalTranslation, RoundTranslation
from pb.languages.store import cache_key
from pb.languages.store import forget as _forget
from pb.proposals.models import Project, Proposal, Status
from pb.rounds.freeze import guard_unfrozen
from pb.rounds.models import Round
from pb.rounds.services import audit_round

# What may be translated, with the longest text each field takes (as its source field).
ROUND_FIELDS = {"title": 200, "purpose": 5000, "eligibility": 2000}
PROPOSAL_FIELDS = {"title": 120, "summary": 300, "description": 5000, "beneficiaries": 1000}
REASON_FIELDS = {"screening_reason": 2000}  # given by the screeners, not the group
ROUND_FROZEN_FIELDS = ("eligibility",)  # as in pb.rounds.services.update_round


class LanguageError(ValueError):
    """A language or translation the round does not allow; nothing was saved."""

    status = 400


# ---------------------------------------------------------------- the round's languages


def site_languages() -> list[str]:
    return list(current_app.config["LANGUAGES"])


def set_round_languages(session: Session, round_: Round, *, actor: User, source: str, others: list[str]) -> None:
    """The convening lead chooses the round's source language and the others it offers."""
    guard_unfrozen(session, round_, actor=actor, attempted="round.languages_set", detail={"source": source})
    site = site_languages()
    if source not in site:
        raise LanguageError(_("Choose one of the languages this site offers."))
    wanted = set(others)
    if not wanted <= set(site):
        raise LanguageError(_("Choose among the languages this site offers."))
    chosen = [code for code in site if code in wanted and code != source]
    round_.source_locale, round_.other_locales = source, ",".join(chosen)
    session.add(round_)
    session.flush()
    audit_round(session, round_, "round.languages_set", actor, source=source, others=chosen)


def _check_offered(round_: Round, locale: str) -> None:
    if locale not in round_.translated_into:
        raise LanguageError(_("This round does not offer that language."))


# ---------------------------------------------------------------- giving translations


def translations_of(session: Session, obj: Round | Proposal, locale: str) -> dict[str, str]:
    """The translations of an object's fields into one language, by field."""
    model, owner = _table(obj)
    rows = session.exec(select(model).where(getattr(model, owner) == obj.id, model.locale == locale))
    return {row.field: row.text for row in rows}


def _table(obj):
    return (RoundTranslation, "round_id") if isinstance(obj, Round) else (ProposalTranslation, "proposal_id")


def _write(session: Session, obj, locale: str, texts: dict[str, str], fields: dict[str, int]) -> dict[str, str]:
    """Store the given translations (an empty one removes it); the fields that changed."""
    model, owner = _table(obj)
    existing = {
        row.field: row
        for row in session.exec(select(model).where(getattr(model, owner) == obj.id, model.locale == locale))
    }
    changed = {}
    for field, limit in fields.items():
        text = (texts.get(field) or "").strip()
        if len(text) > limit:
            raise LanguageError(_("A translation is longer than the text it translates may be."))
        row = existing.get(field)
        if row is not None and not text:
            session.delete(row)
        elif row is not None and row.text != text:
            row.text = text
            session.add(row)
        elif row is None and text:
            session.add(model(**{owner: obj.id}, field=field, locale=locale, text=text))
        else:
            continue
        changed[field] = text
    session.flush()
    _forget(obj)
    return changed


def translate_round(session: Session, round_: Round, *, actor: User, locale: str, texts: dict[str, str]) -> None:
    """The convening lead gives the round's own text in one of its other languages."""
    _check_offered(round_, locale)
    before = translations_of(session, round_, locale)
    frozen = [f for f in ROUND_FROZEN_FIELDS if (texts.get(f) or "").strip() != before.get(f, "")]
    if frozen:
        guard_unfrozen(
            session, round_, actor=actor, attempted="round.translated", detail={"locale": locale, "fields": frozen}
        )
    changed = _write(session, round_, locale, texts, ROUND_FIELDS)
    if changed:
        audit_round(session, round_, "round.translated", actor, locale=locale, **changed)


def translate_proposal(
    session: Session, proposal: Proposal, *, actor: User, locale: str, texts: dict[str, str]
) -> None:
    """A member of the group gives its proposal's text in one of the round's other
    languages, whenever the proposal itself may change. A translation is part of what the
    group proposes: changing one of an eligible proposal sends it back to screening."""
    from pb.proposals.services import _audit, _check_member, _check_open_for_changes

    round_ = session.get_one(Round, proposal.round_id)
    _check_open_for_changes(session, round_, proposal, actor, "proposal.translated")
    _check_member(session, proposal, actor)
    _check_offered(round_, locale)
    changed = _write(session, proposal, locale, texts, PROPOSAL_FIELDS)
    if not changed:
        return
    if proposal.status == Status.ELIGIBLE.value:
        proposal.status = Status.SUBMITTED.value
        session.add(proposal)
        session.flush()
    if proposal.status == Status.DRAFT.value:
        # A draft is the group's alone, and the chain is for good: which fields, not what they say.
        _audit(
            session,
            proposal,
            "proposal.translated",
            actor,
            locale=locale,
            translated=sorted(changed),
            private={"translation": changed},
        )
    else:
        _audit(session, proposal, "proposal.translated", actor, locale=locale, translation=changed)


def translate_screening_reason(session: Session, proposal: Proposal, *, actor: User, locale: str, text: str) -> None:
    """A screener gives the reason for a decision in one of the round's other languages,
    until voting opens (as the decision itself). A returned proposal's reason is for its
    group alone, so the log keeps that translation private, as it keeps the reason."""
    from pb.proposals.services import ProposalError, _audit, is_screener

    round_ = session.get_one(Round, proposal.round_id)
    guard_unfrozen(
        session, round_, actor=actor, attempted="proposal.reason_translated", detail={"proposal": proposal.id}
    )
    if not is_screener(session, round_, actor):
        raise ProposalError(_("Only the round's screeners can screen its proposals."))
    if is_member_of(session, actor, session.get_one(Organisation, proposal.organisation_id)):
        raise ProposalError(_("You cannot screen a proposal from a group you belong to."))
    if proposal.status not in (Status.NOT_ELIGIBLE.value, Status.RETURNED.value) or not proposal.screening_reason:
        raise LanguageError(_("This proposal has no screening reason to translate."))
    _check_offered(round_, locale)
    changed = _write(session, proposal, locale, {"screening_reason": text}, REASON_FIELDS)
    if not changed:
        return
    if proposal.status == Status.RETURNED.value:
        _audit(
            session,
            proposal,
            "proposal.reason_translated",
            actor,
            locale=locale,
            private={"reason": changed["screening_reason"]},
        )
    else:
        _audit(
            session, proposal, "proposal.reason_translated", actor, locale=locale, reason=changed["screening_reason"]
        )


# ---------------------------------------------------------------- showing text


def bcp47(code: str) -> str:
    """A site locale as HTML's lang attribute writes it: en_GB is en-GB."""
    return code.replace("_", "-")


def direction(code: str) -> str:
    """How a language is written: "rtl" (Arabic, Urdu) or "ltr"."""
    return Locale.parse(code).text_direction


@dataclass(frozen=True)
class Localised:
    """A field's text as a page shows it: in the page's language where the round gives
    it, else as written, marked with its language (so screen readers switch) and a note."""

    text: str
    lang: str | None = None  # the text's language, when it is not the page's
    direction: str = "ltr"
    note_text: str | None = None  # "Not available in ...; shown in ..."

    def __str__(self) -> str:
        return self.text

    def __bool__(self) -> bool:
        return bool(self.text)

    def __html__(self) -> str:
        if self.lang is None:
            return str(escape(self.text))
        return str(Markup('<span lang="%s" dir="%s">%s</span>') % (self.lang, self.direction, self.text))

    @property
    def attrs(self) -> Markup:
        """lang and dir for an element that holds the whole text (e.g. several paragraphs)."""
        return Markup(' lang="%s" dir="%s"') % (self.lang, self.direction) if self.lang else Markup("")

    @property
    def paragraphs(self) -> list[str]:
        return [paragraph for paragraph in self.text.split("\n\n") if paragraph.strip()]

    @property
    def note(self) -> Markup:
        return (
            Markup('<span class="muted translation-note">%s</span>') % self.note_text if self.note_text else Markup("")
        )


def localised(obj: Round | Proposal | Project, field: str) -> Localised:
    """The one way a page shows a round's, proposal's or project's text to the public.

    A project is its proposal as fixed on the ballot: its title is its own copy, its
    other text and every translation are its proposal's."""
    from pb.db import db_session

    session = db_session()
    owner: Proposal | Round
    if isinstance(obj, Project):
        proposal = session.get_one(Proposal, obj.proposal_id)
        written = getattr(obj, field, None) if field == "title" else getattr(proposal, field)
        owner, round_ = proposal, session.get_one(Round, proposal.round_id)
    elif isinstance(obj, Proposal):
        written, owner, round_ = getattr(obj, field), obj, session.get_one(Round, obj.round_id)
    else:
        written, owner, round_ = getattr(obj, field), obj, obj
    written = written or ""
    page = str(get_locale() or round_.source_locale)
    if page == round_.source_locale or not written:
        return Localised(written)
    if page in round_.translated_into:
        translated = _cached(session, owner).get((field, page))
        if translated:
            return Localised(translated)
    return Localised(
        written,
        lang=bcp47(round_.source_locale),
        direction=direction(round_.source_locale),
        note_text=_(
            "Not available in %(language)s; shown in %(source)s.",
            language=language_name(page),
            source=language_name(round_.source_locale),
        ),
    )


def _cached(session: Session, owner) -> dict[tuple[str, str], str]:
    """Every translation of one object, read once per request."""
    cache = g.setdefault("translations", {})
    key = cache_key(owner)
    if key not in cache:
        model, column = _table(owner)
        cache[key] = {
            (row.field, row.locale): row.text
            for row in session.exec(select(model).where(getattr(model, column) == owner.id))
        }
    return cache[key]
