"""The order of the projects on a ballot paper, drawn when voting opens.

The order matters: it is how the projects are listed to every voter and in the published
ballot file, and the count breaks exact ties by it (the project listed first wins). So it
is drawn at random, at the moment voting opens, in a way anyone can check afterwards:

    a fresh random seed is taken (Python's `secrets`), and each ballot paper's proposals
    are sorted by the SHA-256 hash of the text "SEED:PROPOSAL_ID", written as 64
    lower-case hexadecimal digits, smallest first.

The seed and the resulting order of each ballot paper are recorded in the round's audit
log (event "ballot.order_drawn"), and the "Recount it yourself" page shows how to redo it.
"""

import hashlib
import secrets
from collections.abc import Iterable

DRAWN = "ballot.order_drawn"  # the audit event that records each draw
METHOD = "proposal ids sorted by sha256('SEED:PROPOSAL_ID') in hexadecimal, smallest first"


def new_seed() -> str:
    return secrets.token_hex(16)


def order_key(seed, proposal_id: int) -> str:
    """Where a proposal falls in the order drawn with `seed`: the hash that is sorted on."""
    return hashlib.sha256(f"{seed}:{proposal_id}".encode()).hexdigest()


def draw(seed, proposal_ids: Iterable[int]) -> list[int]:
    """The proposal ids in the order drawn with `seed` (the one function for it)."""
    return sorted(proposal_ids, key=lambda proposal_id: (order_key(seed, proposal_id), proposal_id))
