"""Organisations (anchors and community groups), users and their memberships."""

import secrets
from datetime import datetime
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from pb.clock import now


class OrganisationKind(StrEnum):
    ANCHOR = "anchor"
    GROUP = "group"


# Sub-types, with the words people use for them.
ANCHOR_TYPES = {
    "local_authority": _l("Local authority"),
    "nhs": _l("NHS body"),
    "university": _l("University or college"),
    "police": _l("Police"),
    "fire": _l("Fire and rescue service"),
    "housing_association": _l("Housing association"),
    "cooperative": _l("Co-operative"),
    "other_anchor": _l("Other anchor institution"),
}
GROUP_TYPES = {
    "charity": _l("Charity"),
    "cic": _l("Community interest company"),
    "residents_association": _l("Residents' association"),
    "faith_group": _l("Faith group"),
    "informal_group": _l("Informal group"),
    "other_group": _l("Other community group"),
}
TYPES_BY_KIND = {OrganisationKind.ANCHOR: ANCHOR_TYPES, OrganisationKind.GROUP: GROUP_TYPES}


class Role(StrEnum):
    PLATFORM_ADMIN = "platform_admin"
    ANCHOR_LEAD = "anchor_lead"
    GROUP_MEMBER = "group_member"


class Organisation(SQLModel, table=True):
    id: int = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    kind: str = Field(max_length=20)
    subtype: str = Field(max_length=40)
    registered_number: str | None = Field(default=None, max_length=40)  # charity or company number
    contact_email: str | None = Field(default=None, max_length=254)
    area_served: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=now)

    @property
    def subtype_label(self) -> str:
        return str(TYPES_BY_KIND[OrganisationKind(self.kind)].get(self.subtype, self.subtype))


class User(SQLModel, table=True):
    id: int = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    name: str = Field(max_length=120)
    password_hash: str = Field(max_length=255)
    is_platform_admin: bool = False
    locale: str | None = Field(default=None, max_length=20)
    created_at: datetime = Field(default_factory=now)
    # Who they are in the public audit export: stable, and leads to no account.
    audit_ref: str | None = Field(default_factory=lambda: secrets.token_hex(8), max_length=16, index=True, unique=True)

    # Flask-Login's interface
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


class UserSession(SQLModel, table=True):
    """A signed-in browser, known on the server: the cookie holds a random reference, of
    which only a hash is kept. Signing out deletes it (a copied cookie stops working);
    "sign out everywhere" and a new password delete every one of the user's."""

    __tablename__ = "user_session"

    id: int = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=now)


class Invitation(SQLModel, table=True):
    """An emailed invitation to join an organisation; only a hash of its token is kept."""

    id: int = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    email: str = Field(max_length=254)
    token_hash: str = Field(max_length=64, unique=True)
    invited_by_user_id: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=now)
    accepted_at: datetime | None = None


class Membership(SQLModel, table=True):
    """A user belongs to an organisation: as its lead (anchors) or a member (groups)."""

    __table_args__ = (UniqueConstraint("user_id", "organisation_id"),)

    id: int = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    created_at: datetime = Field(default_factory=now)
