"""Imports every domain's tables, so the metadata is complete for migrations and tests."""

from pb.accounts.models import Invitation, Membership, Organisation, User  # noqa: F401
from pb.audit.models import AuditChainHead, AuditEvent  # noqa: F401
from pb.delivery.models import DeliveryUpdate, Milestone, SpendLine, Verdict  # noqa: F401
from pb.equality.models import EqualityAnswered, EqualityCount  # noqa: F401
from pb.languages.models import ProposalTranslation, RoundTranslation  # noqa: F401
from pb.mail import OutgoingMail  # noqa: F401
from pb.notices.models import NoticeSent, Subscription  # noqa: F401
from pb.proposals.models import CostLine, Project, Proposal, ProposalObjective, Screener  # noqa: F401
from pb.questions.models import ProposalQuestion, QuestionAnswer  # noqa: F401
from pb.results.models import ContestResult, RoundTurnout  # noqa: F401
from pb.rounds.limits import ContestLimit  # noqa: F401
from pb.rounds.models import (  # noqa: F401
    Area,
    Category,
    CharterObjective,
    Contest,
    Partner,
    Pot,
    Round,
    RoundContact,
    RoundQuestion,
    VotingPlace,
)
from pb.throttle import ThrottleAttempt  # noqa: F401
from pb.voting.models import (  # noqa: F401
    Ballot,
    BallotChoice,
    CodeBatch,
    EmailChallenge,
    PollingHelper,
    Voter,
    VotingCode,
)
