"""One whole MES run at one per-voter share: the projects it funds, what their supporters
have left, and (when asked) the explanation of every round."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from operator import mul
from typing import Any

from . import rational
from .instance import HeapEntry, Instance
from .integer_machine import IntegerMachine
from .machine import Machine, Payments
from .outcome import EqualSharesRound, PaymentGroup
from .rational import Rational, to_fraction


class Run:
    """The result of one MES run at a given per-voter budget."""

    def __init__(
        self,
        per_voter: Rational,
        winners: list[int],
        budgets: Sequence[Any],
        rounds: list[EqualSharesRound] | None,
    ):
        self.per_voter = per_voter
        self.winners = winners
        self.budgets = budgets  # exact, or integers over ``denominator``
        self.denominator: int | None = None
        self.rounds = rounds
        self.ties: list[tuple[int, list[int]]] = []  # (round from 1, [winner, *tied]) when explained

    def left(self, inst: Instance, j: int) -> Rational:
        """What the supporters of project j have left between them."""
        if not self.budgets:
            return rational.ZERO
        if self.denominator is None:
            return sum(map(mul, inst.getters[j](self.budgets), inst.support_weights[j]), rational.ZERO)
        return rational.Q(sum(map(mul, inst.getters[j](self.budgets), inst.support_weights[j])), self.denominator)


def machine_for(inst: Instance, share: Rational | int, heap: list[HeapEntry] | None = None) -> Machine:
    """The fastest exact machine for this election (no explanation)."""
    if inst.approval:
        return IntegerMachine(inst, share, heap=heap)
    return Machine(inst, share, heap=heap)


def run(inst: Instance, per_voter: Rational | int, explain: bool = False) -> Run:
    Q = rational.Q
    if not explain:
        machine = machine_for(inst, per_voter).finish()
        return Run(Q(per_voter), machine.winners, machine.budgets, None)
    machine = machine_for(inst, per_voter)
    rounds: list[EqualSharesRound] = []
    cost = inst.cost
    approval = inst.approval
    ties = []
    while (chosen := machine.select()) is not None:
        tied = machine.tied_with(chosen[0])
        if tied:
            ties.append((len(rounds) + 1, [chosen[2], *tied]))
        paid: Payments = Counter()
        rho, _, w, found = machine.commit(paid)
        price = found if approval else rho
        rounds.append(
            EqualSharesRound(
                project_id=inst.pids[w],
                cost=to_fraction(cost[w]),
                rho=to_fraction(rho),
                price_per_supporter=to_fraction(price),
                effective_votes=to_fraction(cost[w] / price) if approval else to_fraction(1 / rho),
                payments=[
                    PaymentGroup(count, to_fraction(amount), all_they_had)
                    for (amount, all_they_had), count in sorted(paid.items(), key=lambda kv: (-kv[0][0], kv[0][1]))
                ],
            )
        )
    result = Run(Q(per_voter), machine.winners, machine.budgets, rounds)
    result.ties = ties
    if isinstance(machine, IntegerMachine):
        result.denominator = machine.den
    return result
