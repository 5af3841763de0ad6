"""Declared identity: residents say who they are (the round chooses what: name, first
line of address, year of birth; the postcode always), and nothing is checked when they
vote. What makes it more than a free-for-all:

- the same identity declared again is the same voter, who may replace their ballot but
  not add one. The voter's identity is a keyed hash (under the round's voter secret) of
  the declaration normalised as below, so "Ann O'Neill, 12 High St." and "ann oneill,
  12 high street" are one person;
- declarations are limited per client (pb.voting.services.voter_by_declaration);
- the returning officer can export what was declared, to check against the electoral
  register, until the results are published, when every declaration is deleted.
"""

import re
import unicodedata

from sqlalchemy import delete, exists, func
from sqlmodel import Session, col, select

from pb.postcodes import normalise_postcode
from pb.rounds.models import Area, DeclaredField, Round
from pb.voting.models import Ballot, Declaration, Voter

# The last word of an address line, as commonly shortened.
STREET_WORDS = {
    "st": "street",
    "rd": "road",
    "ave": "avenue",
    "av": "avenue",
    "ln": "lane",
    "dr": "drive",
    "ct": "court",
    "pl": "place",
    "cres": "crescent",
    "cl": "close",
    "gdns": "gardens",
    "sq": "square",
    "tce": "terrace",
    "gr": "grove",
    "pk": "park",
    "wy": "way",
}


def _words(text: str) -> list[str]:
    """The words of a text, as a comparison sees them: no accents, case or punctuation
    (an apostrophe joins: "O'Neill" is one word)."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return re.findall(r"[^\W_]+", re.sub(r"['’`]", "", bare))


def plain(text: str) -> str:
    """A name as a comparison sees it: its letters and digits only, so "Ann O'Neill",
    "ann oneill" and "Ann O Neill" are the same."""
    return "".join(_words(text))


def plain_address(text: str) -> str:
    """An address line as a comparison sees it: as `plain`, with a shortened last word
    written out ("12 High St." is "12 High Street")."""
    words = _words(text)
    if words:
        words[-1] = STREET_WORDS.get(words[-1], words[-1])
    return "".join(words)


def identity_text(round_: Round, *, name: str, address: str, postcode: str, birth_year: int | None) -> str:
    """The declaration, normalised, as the text whose keyed hash is the voter's identity.
    Only what the round asks for takes part."""
    parts = [normalise_postcode(postcode).replace(" ", "")]
    declares = round_.declares
    if DeclaredField.NAME in declares:
        parts.append(plain(name))
    if DeclaredField.ADDRESS in declares:
        parts.append(plain_address(address))
    if DeclaredField.BIRTH_YEAR in declares:
        parts.append(str(birth_year or ""))
    return "declared:" + "\x1f".join(parts)


def declarations_of(session: Session, round_: Round) -> list[dict]:
    """What residents declared, for the returning officer's check against the register:
    sorted by postcode, address and name (never in the order people voted), with the area
    and whether the declaration was used to cast a ballot."""
    areas: dict[int | None, str] = {a.id: a.name for a in session.exec(select(Area).where(Area.round_id == round_.id))}
    voted = exists().where(col(Ballot.voter_id) == col(Declaration.voter_id))
    rows = session.exec(
        select(Declaration, Voter.area_id, voted)
        .join(Voter, col(Voter.id) == col(Declaration.voter_id))
        .where(Declaration.round_id == round_.id)
    ).all()
    listed = [
        {
            "name": d.name,
            "address": d.address,
            "postcode": d.postcode,
            "birth_year": d.birth_year,
            "area": areas.get(area_id, ""),
            "voted": bool(cast),
        }
        for d, area_id, cast in rows
    ]
    return sorted(listed, key=lambda r: (r["postcode"], plain_address(r["address"]), plain(r["name"])))


def count_declarations(session: Session, round_: Round) -> int:
    return session.exec(select(func.count()).select_from(Declaration).where(Declaration.round_id == round_.id)).one()


def forget_declarations(session: Session, round_: Round) -> int:
    """Delete what residents declared, when the results are published. Returns how many."""
    return session.exec(delete(Declaration).where(col(Declaration.round_id) == round_.id)).rowcount
