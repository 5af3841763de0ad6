"""Recounting a published ballot file with pabutools, an independent implementation.

The "Recount it yourself" page shows, for each rule (and ballot kind) a round used, a
complete Python program that reads the downloaded file with pabutools and prints the
funded projects. It passes pabutools everything pb's count depends on:

- ties go to the project the file lists first (the ballot order drawn when voting opened);
  pabutools keeps the projects' details in file order in `instance.project_meta`;
- projects nobody voted for are left out (pb never funds them; pabutools' greedy would);
- approval ballots are worth the project's cost to each supporter (`Cost_Sat`), so greedy
  takes projects by votes; ranked ballots become points k, k-1, ..., 1 with k the file's
  `max_length` (for greedy, points times cost, so that greedy takes projects by points);
  points (cumulative) ballots are read by pabutools as they are, the points as utilities
  (and, for greedy, points times cost, as for ranked ballots);
- equalshares/add1 runs pabutools' Method of Equal Shares with voter_budget_increment=1
  from floor(budget / voters), where pb starts (pabutools' own default start is
  budget / voters);
- equalshares/add1-comparison is Wieliczka's procedure: the share rises past exhaustive
  outcomes, while the next one still fits, until everything voted for is funded (pabutools'
  increment would stop at the first exhaustive outcome), so the program raises it itself,
  running pabutools' MES at each share;
- greedy-no-skip and the comparison step of add1-comparison have no pabutools rule, so
  the program does those last steps itself, in a few plain lines.

Lines are kept to 40 characters, to be read on a phone.
"""

from dataclasses import dataclass

GREEDY = {"greedy", "greedy-no-skip"}
ADD1 = {"equalshares/add1", "equalshares/add1-comparison"}

# What each rule needs from pabutools, besides parse_pabulib and the satisfaction.
RULE_IMPORTS = {
    "greedy": {"pabutools.rules": ["greedy_utilitarian_welfare"]},
    "greedy-no-skip": {},
    "equalshares": {"pabutools.rules": ["method_of_equal_shares"]},
    "equalshares/add1": {
        "pabutools.rules": ["BudgetAllocation"],
        "pabutools.rules.mes": ["method_of_equal_shares_scheme"],
    },
    "equalshares/add1-comparison": {
        "pabutools.rules": ["BudgetAllocation", "greedy_utilitarian_welfare"],
        "pabutools.rules.mes": ["method_of_equal_shares_scheme"],
    },
}


def pabutools_snippet(rule: str, kind: str, filename: str) -> str:
    """The program for one rule and ballot kind ("approval", "ranked" or "points"), reading `filename`."""
    ranked, points = kind == "ranked", kind == "points"
    cardinal = ranked or points
    election = ["parse_pabulib"] + (
        ["Additive_Cardinal_Sat", "CardinalBallot", "CardinalProfile"] if cardinal else ["Cost_Sat"]
    )
    modules = {"pabutools.election": election, **RULE_IMPORTS[rule]}
    if rule != "greedy-no-skip":
        modules["pabutools.tiebreaking"] = ["TieBreakingRule"]
    lines = ["from math import floor"] if rule in ADD1 else []
    for module, names in modules.items():
        lines += [f"from {module} import ("] + [f"    {name}," for name in names] + [")"]
    lines += [
        "",
        "instance, profile = parse_pabulib(",
        f'    "{filename}")',
        "position = {",
        "    p.name: n for n, p",
        "    in enumerate(instance.project_meta)}",
    ]
    if rule != "greedy-no-skip":
        lines += [
            "ties = TieBreakingRule(",
            "    lambda i, prof, p: position[p.name])",
        ]
    lines += [
        "voted = {p for ballot in profile",
        "         for p in ballot}",
        "instance.intersection_update(voted)",
    ]
    # Greedy takes projects by satisfaction per unit of cost: with Cost_Sat that is
    # votes; for ranked and points ballots each point is worth the project's cost, so it is points.
    by_score = "profile"
    if cardinal:
        if ranked:
            lines += [
                'k = int(instance.meta["max_length"])',
                "profile = CardinalProfile([",
                "    CardinalBallot({p: k - r",
                "        for r, p in enumerate(ballot)})",
                "    for ballot in profile],",
                "    instance=instance)",
            ]
        lines += ["sat = Additive_Cardinal_Sat"]
        if rule not in ("equalshares", "equalshares/add1"):
            by_score = "by_points"
            lines += [
                "by_points = CardinalProfile([",
                "    CardinalBallot({p: x * p.cost",
                "        for p, x in ballot.items()})",
                "    for ballot in profile],",
                "    instance=instance)",
            ]
    else:
        lines += ["sat = Cost_Sat"]
    lines += [""]
    greedy = [
        "greedy_utilitarian_welfare(",
        f"    instance, {by_score},",
        "    sat_class=sat, tie_breaking=ties)",
    ]
    add1 = [
        "voters = max(profile.num_ballots(), 1)",
        "start = floor(",
        "    instance.budget_limit / voters)",
        "mes = method_of_equal_shares_scheme(",
        "    instance, profile,",
        "    profile.as_sat_profile(sat),",
        "    start, BudgetAllocation(), ties,",
        "    voter_budget_increment=1,",
        f"    binary_sat={not cardinal})",
    ]
    if rule == "greedy":
        lines += ["funded = " + greedy[0], *greedy[1:]]
    elif rule == "greedy-no-skip":
        lines += [
            f"sats = {by_score}.as_sat_profile(sat)",
            "total = sats.total_satisfaction_project",
            "",
            "",
            "def order(p):",
            "    return (-total(p) / p.cost,",
            "            position[p.name])",
            "",
            "",
            "funded, left = [], instance.budget_limit",
            "for p in sorted(instance, key=order):",
            "    if p.cost > left:",
            "        break",
            "    funded.append(p)",
            "    left -= p.cost",
        ]
    elif rule == "equalshares":
        lines += [
            "funded = method_of_equal_shares(",
            "    instance, profile,",
            "    sat_class=sat, tie_breaking=ties)",
        ]
    elif rule == "equalshares/add1":
        lines += [*add1, "funded = mes"]
    else:  # equalshares/add1-comparison: the outcome more voters prefer
        lines += [
            "voters = max(profile.num_ballots(), 1)",
            "sats = profile.as_sat_profile(sat)",
            "",
            "",
            "def mes_at(share):",
            "    run = method_of_equal_shares_scheme",
            "    return run(",
            "        instance, profile, sats, share,",
            "        BudgetAllocation(), ties,",
            f"        binary_sat={not cardinal})",
            "",
            "",
            "# Wieliczka's add1: the share rises",
            "# while the next outcome still fits,",
            "# until all voted for is funded.",
            "share = floor(",
            "    instance.budget_limit / voters)",
            "mes = mes_at(share)",
            "while len(mes) < len(instance):",
            "    nxt = mes_at(share + 1)",
            "    if sum(p.cost for p in nxt) > \\",
            "            instance.budget_limit:",
            "        break",
            "    share, mes = share + 1, nxt",
            "",
            "greedy = " + greedy[0],
            *greedy[1:],
            "",
            "",
            "def preferring(a, b):",
            "    return sum(",
            "        sum(p in a for p in ballot)",
            "        > sum(p in b for p in ballot)",
            "        for ballot in profile)",
            "",
            "",
            "funded = mes",
            "if preferring(greedy, mes) > \\",
            "        preferring(mes, greedy):",
            "    funded = greedy",
        ]
    lines += ["", "print(sorted(int(p.name)", "             for p in funded))"]
    return "\n".join(lines) + "\n"


@dataclass
class Program:
    """One program, for the ballot papers of a round counted with the same rule and kind."""

    rule: str
    kind: str  # the contests' ballot_kind
    views: list  # pb.results.services.ContestView
    text: str


def for_round(views: list, file_name) -> list[Program]:
    """A program per rule and ballot kind in use, reading the file of the first ballot
    paper counted that way (`file_name(view)` gives the name it is downloaded as)."""
    grouped: dict[tuple[str, str], list] = {}
    for view in views:
        grouped.setdefault((view.result.rule, view.contest.ballot_kind), []).append(view)
    return [
        Program(rule, kind, papers, pabutools_snippet(rule, kind, file_name(papers[0])))
        for (rule, kind), papers in grouped.items()
    ]
