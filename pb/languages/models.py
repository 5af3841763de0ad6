"""Translations of a round's and a proposal's own text: one row per (object, field, language).

The text as written (in the round's source language) stays on the round or proposal
itself; a row here is only ever another language's version of one of its fields.
"""

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class TranslationBase(SQLModel):
    field: str = Field(max_length=30)
    locale: str = Field(max_length=10)  # one of the site's languages (config LANGUAGES)
    text: str = Field(sa_type=Text)


class RoundTranslation(TranslationBase, table=True):
    __tablename__ = "round_translation"
    __table_args__ = (UniqueConstraint("round_id", "field", "locale"),)

    id: int = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="round.id", index=True)


class ProposalTranslation(TranslationBase, table=True):
    """Also what a project on the ballot shows: a proposal's text cannot change once
    voting opens, so neither can its translations (pb.languages.services)."""

    __tablename__ = "proposal_translation"
    __table_args__ = (UniqueConstraint("proposal_id", "field", "locale"),)

    id: int = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
