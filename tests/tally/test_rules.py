"""Rules on small elections worked out by hand, including their explanations."""

from __future__ import annotations

from fractions import Fraction

import pytest

from pb.tally import UnknownRuleError, count, make_election, rational
from pb.tally.outcome import (
    BELOW_THRESHOLD,
    DOES_NOT_FIT,
    NO_SUPPORT,
    NOT_AFFORDABLE,
    STOPPED,
)


def four_projects(**meta):
    # A: 5 votes, B: 4, C: 3, D: 1, E: none.
    ballots = [["A", "B", "C"]] * 3 + [["A", "B"], ["A", "D"]]
    return make_election(
        budget=100,
        projects=[("A", 50), ("B", 60), ("C", 30), ("D", 10), ("E", 5)],
        ballots=ballots,
        meta=meta,
    )


def test_greedy_skips_what_does_not_fit():
    outcome = count(four_projects(), "greedy")
    assert outcome.selected == ["A", "C", "D"]
    assert outcome.cost == 90
    steps = {s.project_id: s for s in outcome.explanation.steps}
    assert [s.project_id for s in outcome.explanation.steps] == ["A", "B", "C", "D", "E"]
    assert steps["B"].reason.code == DOES_NOT_FIT
    assert steps["B"].reason.detail == "costs 60 but only 50 was left"
    assert outcome.explanation.unfunded["E"].code == NO_SUPPORT


def test_greedy_no_skip_stops_at_first_misfit():
    outcome = count(four_projects(), "greedy-no-skip")
    assert outcome.selected == ["A"]
    assert outcome.explanation.unfunded["C"].code == STOPPED


def test_greedy_threshold():
    outcome = count(four_projects(min_project_score_threshold="3"), "greedy-threshold")
    assert outcome.selected == ["A", "C"]  # C has exactly the threshold: eligible
    assert outcome.explanation.unfunded["D"].code == BELOW_THRESHOLD
    assert outcome.explanation.unfunded["D"].figures == {"score": 1, "threshold": 3}
    with pytest.raises(Exception, match="min_project_score_threshold"):
        count(four_projects(), "greedy-threshold")


def test_greedy_tie_goes_to_the_project_listed_first():
    # Equal votes: x is listed first and funded although y and z are cheaper.
    election = make_election(budget=10, projects=[("x", 8), ("y", 6), ("z", 6)], ballots=[["x"], ["y"], ["z"]])
    outcome = count(election, "greedy")
    assert outcome.selected == ["x"]
    (tie,) = outcome.explanation.ties
    assert (tie.step, tie.projects, tie.decisive) == (1, ["x", "y", "z"], True)
    assert outcome.explanation.unfunded["y"].figures == {"left": 2, "cost": 6}
    listed_otherwise = make_election(budget=10, projects=[("y", 6), ("x", 8), ("z", 6)], ballots=[["x"], ["y"], ["z"]])
    assert count(listed_otherwise, "greedy").selected == ["y"]


def test_a_tie_that_decides_nothing_is_not_decisive():
    # x and y tie and both fit; z ties with nothing.
    election = make_election(budget=20, projects=[("x", 8), ("y", 6), ("z", 30)], ballots=[["x", "y", "z"], ["x", "y"]])
    outcome = count(election, "greedy")
    assert outcome.selected == ["x", "y"]
    assert [(t.projects, t.decisive) for t in outcome.explanation.ties] == [(["x", "y"], False)]


def test_greedy_no_skip_tie_that_stops_is_decisive():
    # x (listed first) does not fit and stops the count; y, tied with it, would have fitted.
    election = make_election(budget=10, projects=[("x", 12), ("y", 6)], ballots=[["x"], ["y"]])
    outcome = count(election, "greedy-no-skip")
    assert outcome.selected == []
    assert outcome.explanation.unfunded["y"].figures == {"at": "x"}
    assert [(t.projects, t.decisive) for t in outcome.explanation.ties] == [(["x", "y"], True)]


def test_equal_shares_tie_goes_to_the_project_listed_first():
    # Two identical projects, money for one: rho is equal, so the one listed first wins.
    election = make_election(budget=10, projects=[("p", 10), ("q", 10)], ballots=[["p", "q"]] * 4)
    outcome = count(election, "equalshares")
    assert outcome.selected == ["p"]
    (tie,) = outcome.explanation.ties
    assert (tie.step, tie.projects, tie.decisive) == (1, ["p", "q"], True)
    reason = outcome.explanation.unfunded["q"]
    assert (reason.code, reason.figures) == (NOT_AFFORDABLE, {"left": 0, "cost": 10})


def test_ordinal_ballots_count_as_points():
    # k = 3: first 3 points, second 2, third 1. p gets 3+1 = 4, q 2+3 = 5, r 1+2 = 3.
    election = make_election(
        budget=10,
        projects=[("p", 5), ("q", 6), ("r", 4)],
        ballots=[["p", "q", "r"], ["q", "r", "p"]],
        vote_type="ordinal",
        max_length=3,
    )
    outcome = count(election, "greedy")
    assert outcome.scores == {"p": 4, "q": 5, "r": 3}
    assert outcome.selected == ["q", "r"]


def mes_example():
    # 4 voters, 60 to share: 15 each.
    return make_election(
        budget=60,
        projects=[("A", 36), ("B", 17), ("C", 50)],
        ballots=[["A", "B"], ["A"], ["A"], ["B", "C"]],
    )


def test_equal_shares_explanation_by_hand():
    outcome = count(mes_example(), "equalshares")
    # Round 1: A's three supporters pay 12 each (rho 1/3); B would cost 8.5 each (rho 1/2).
    # Round 2: B: voter 1 has only 3 left and pays it all; voter 4 pays the other 14.
    assert outcome.selected == ["A", "B"]
    assert outcome.cost == 53
    first, second = outcome.explanation.rounds
    assert (first.project_id, first.rho, first.price_per_supporter) == ("A", Fraction(1, 3), 12)
    assert [(g.supporters, g.paid_each, g.all_they_had) for g in first.payments] == [(3, 12, False)]
    assert (second.project_id, second.rho, second.price_per_supporter) == ("B", Fraction(14, 17), 14)
    assert [(g.supporters, g.paid_each, g.all_they_had) for g in second.payments] == [
        (1, 14, False),
        (1, 3, True),
    ]
    assert outcome.explanation.per_voter_budget == 15
    reason = outcome.explanation.unfunded["C"]
    assert reason.code == NOT_AFFORDABLE
    assert reason.detail == "its supporters had 1 left between them, less than its cost of 50"
    assert reason.figures == {"left": 1, "cost": 50}


def test_equal_shares_with_cumulative_points():
    # Voter 1 gives A 3 points and B 1; voter 2 gives B 2. 10 each.
    election = make_election(
        budget=20,
        projects=[("A", 12), ("B", 12)],
        ballots=[{"A": 3, "B": 1}, {"B": 2}],
        vote_type="cumulative",
    )
    outcome = count(election, "equalshares")
    # A: only voter 1 (10 < 12): unaffordable. B: rho 12/3 = 4 per point: voter 1 pays 4,
    # voter 2 pays 8. Then A: voter 1 has 6 left: unaffordable.
    assert outcome.selected == ["B"]
    (only,) = outcome.explanation.rounds
    assert only.rho == 4
    assert [(g.supporters, g.paid_each) for g in only.payments] == [(1, 8), (1, 4)]


def test_add1_spends_more_and_still_fits():
    # Plain MES funds only A (each voter has 15; B needs 17 from two voters who then hold 3
    # and 15). Raising shares to 16 lets the supporters of A pay 12 each and B's pay 4 + 13.
    plain = count(mes_example(), "equalshares")
    add1 = count(mes_example(), "equalshares/add1")
    assert add1.cost <= 60
    assert set(plain.selected) <= set(add1.selected)
    assert add1.explanation.start_per_voter_budget == 15
    assert add1.explanation.completion_runs >= 1


def test_comparison_step_can_choose_greedy():
    # One large project wanted by 3 of 5 voters, two small ones wanted by one voter each.
    # MES (20 each; with add1 at most 33 each, as 34 would fund big and then s1 as well,
    # over budget) funds the two small ones; greedy funds the big one. 3 voters prefer
    # greedy's outcome, 2 prefer MES's, so greedy's is used.
    election = make_election(
        budget=100,
        projects=[("big", 100), ("s1", 20), ("s2", 20)],
        ballots=[["big"], ["big"], ["big"], ["s1"], ["s2"]],
    )
    outcome = count(election, "equalshares/add1-comparison")
    comparison = outcome.explanation.comparison
    mes_only = count(election, "equalshares/add1").selected
    assert mes_only == ["s1", "s2"]
    assert outcome.explanation.per_voter_budget == 33
    assert (comparison.prefer_equal_shares, comparison.prefer_greedy) == (2, 3)
    assert comparison.chosen == "greedy"
    assert outcome.selected == ["big"]


def test_pure_python_fallback_gives_same_result():
    with_gmpy = count(mes_example(), "equalshares/add1").to_dict()
    rational.use_pure_python(True)
    try:
        without = count(mes_example(), "equalshares/add1").to_dict()
    finally:
        rational.use_pure_python(False)
    assert without == with_gmpy


def test_unknown_rules():
    with pytest.raises(UnknownRuleError, match=r"unknown rule 'greedy-custom'.*comment"):
        count(four_projects(), "greedy-custom")
    with pytest.raises(UnknownRuleError, match="no rule given"):
        count(four_projects())


def test_to_dict_is_json_ready():
    import json

    data = count(mes_example(), "equalshares").to_dict()
    text = json.dumps(data)
    assert '"rho": "14/17"' in text
    assert data["selected"] == ["A", "B"]
