"""The equality-monitoring questions, as data: the wording and categories of the 2021 Census
of England and Wales (Office for National Statistics), each answer with a stable id.

The ids are what is stored (pb.equality.models.EqualityCount) and never change; the labels
are translated. Every question may be skipped ("not answered", which is counted but never
offered) or answered "Prefer not to say". There is no "write in" box: free text could name
someone."""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

PREFER_NOT_TO_SAY = "prefer_not_to_say"
NOT_ANSWERED = "not_answered"  # left blank: counted, so that each question's answers add up to those who answered
UNDER_16 = "under_16"


@dataclass(frozen=True)
class Answer:
    id: str
    label: object  # a lazy string


@dataclass(frozen=True)
class Group:
    """A heading over some answers (the five high-level ethnic groups)."""

    label: object
    answers: tuple[Answer, ...]


@dataclass(frozen=True)
class Question:
    id: str
    label: object
    groups: tuple[Group, ...]  # one group without a label for a question without headings
    hint: object = ""

    @property
    def answers(self) -> tuple[Answer, ...]:
        """The answers a resident may choose, in order, "Prefer not to say" last."""
        return (*(a for g in self.groups for a in g.answers), Answer(PREFER_NOT_TO_SAY, _l("Prefer not to say")))

    @property
    def counted(self) -> tuple[str, ...]:
        """Every answer id counted for this question, "not answered" included."""
        return (*(a.id for a in self.answers), NOT_ANSWERED)


AGE = Question(
    "age",
    _l("What is your age?"),
    (
        Group(
            "",
            (
                Answer(UNDER_16, _l("Under 16")),
                Answer("16_24", _l("16 to 24")),
                Answer("25_34", _l("25 to 34")),
                Answer("35_44", _l("35 to 44")),
                Answer("45_54", _l("45 to 54")),
                Answer("55_64", _l("55 to 64")),
                Answer("65_74", _l("65 to 74")),
                Answer("75_over", _l("75 and over")),
            ),
        ),
    ),
)

DISABILITY = Question(
    "disability",
    _l(
        "Are your day-to-day activities limited because of a health problem or disability which has lasted, "
        "or is expected to last, at least 12 months?"
    ),
    (
        Group(
            "",
            (
                Answer("limited_a_lot", _l("Yes, limited a lot")),
                Answer("limited_a_little", _l("Yes, limited a little")),
                Answer("no", lazy_pgettext("disability question: day-to-day activities are not limited", "No")),
            ),
        ),
    ),
    hint=_l("Include problems related to old age."),
)

ETHNIC_GROUP = Question(
    "ethnic_group",
    _l("What is your ethnic group?"),
    (
        Group(
            _l("Asian, Asian British or Asian Welsh"),
            (
                Answer("asian_bangladeshi", _l("Bangladeshi")),
                Answer("asian_chinese", _l("Chinese")),
                Answer("asian_indian", _l("Indian")),
                Answer("asian_pakistani", _l("Pakistani")),
                Answer("asian_other", _l("Any other Asian background")),
            ),
        ),
        Group(
            _l("Black, Black British, Black Welsh, Caribbean or African"),
            (
                Answer("black_african", _l("African")),
                Answer("black_caribbean", _l("Caribbean")),
                Answer("black_other", _l("Any other Black, Black British or Caribbean background")),
            ),
        ),
        Group(
            _l("Mixed or Multiple ethnic groups"),
            (
                Answer("mixed_white_asian", _l("White and Asian")),
                Answer("mixed_white_black_african", _l("White and Black African")),
                Answer("mixed_white_black_caribbean", _l("White and Black Caribbean")),
                Answer("mixed_other", _l("Any other Mixed or Multiple ethnic background")),
            ),
        ),
        Group(
            _l("White"),
            (
                Answer("white_british", _l("English, Welsh, Scottish, Northern Irish or British")),
                Answer("white_irish", _l("Irish")),
                Answer("white_gypsy_traveller", _l("Gypsy or Irish Traveller")),
                Answer("white_roma", _l("Roma")),
                Answer("white_other", _l("Any other White background")),
            ),
        ),
        Group(
            _l("Other ethnic group"),
            (
                Answer("other_arab", _l("Arab")),
                Answer("other_any", _l("Any other ethnic group")),
            ),
        ),
    ),
)

QUESTIONS: tuple[Question, ...] = (AGE, DISABILITY, ETHNIC_GROUP)
BY_ID = {q.id: q for q in QUESTIONS}


def asks_under_16(minimum_age: int | None) -> bool:
    """Whether a round lets people under 16 vote, so that its age question offers "Under 16"."""
    return minimum_age is None or minimum_age < 16


def cells() -> list[tuple[str, str]]:
    """Every (question, answer) counted, in one fixed order: the counters a round has."""
    return [(q.id, answer) for q in QUESTIONS for answer in q.counted]
