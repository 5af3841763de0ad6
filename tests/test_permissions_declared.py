"""Every view declares who may use it, and none decides it in its body.

A view declares its permission in one of three ways:

- a decorator: `role_required(...)` (pb.accounts.permissions) for a role, `login_required`
  for anyone signed in;
- the loader it calls first for the object it is about: `load_<object>` or
  `load_<object>_as_<who>` from its domain's access module (pb.<domain>.access), which
  returns the object or answers 404 or 403 (directly, or through a helper beside the view
  whose own first step is the loader);
- or it is in PUBLIC below, the one list of what anyone may use, each with why.

403 is answered only by those declared checks, never by an abort(403) in a view or a helper
beside it; nor does a view's body test who the user is (their roles, memberships,
appointments, level of access) to refuse them. What a page shows to whom (an edit button,
a moderation form) is not a refusal, and stays in the views.

The access matrix (test_access_matrix.py) proves what each check answers to each person;
this test proves where the checks are.
"""

import ast
import re
from pathlib import Path

import pb

PACKAGE = Path(pb.__file__).resolve().parent

# What anyone may use, with no role, object or loader to check: asked by anyone, these
# answer the same (or what the request itself carries, a token or a voting session, decides).
PUBLIC = {
    "pages.index": "the home page",
    "pages.privacy": "the privacy statement",
    "pages.accessibility": "the accessibility statement",
    "pages.choose_language": "anyone chooses the language of the pages",
    "favicon": "the site's icon",
    "healthz": "the load balancer's check that the process answers",
    "readyz": "the load balancer's check that the database answers",
    "dev_outbox": "development without a mail server, from this machine alone (else 404: pb.operations.dev_outbox_shown)",
    "accounts.sign_up": "for people without an account",
    "accounts.sign_up_sent": "for people without an account",
    "accounts.finish_sign_up": "the mailed link: the token is the permission",
    "accounts.sign_in": "for people without an account",
    "accounts.sign_out": "ends this browser's session, whoever it is",
    "accounts.reset_request": "for people who cannot sign in",
    "accounts.reset_password": "the mailed link: the token is the permission",
    "rounds.index": "the public list of rounds (drafts are left out by its query)",
    "voting.ballot": "a voter's ballot paper: the voting session this browser holds is the permission "
    "(the fast path of casting checks it; without one, the voter is sent to prove "
    "eligibility; load_contest_as_voter refuses another area's paper)",
    "voting.finish": "ends this browser's voting session, whoever it is",
    "notices.confirm": "the mailed link: the token is the permission",
    "notices.stop": "the mailed link: the token is the permission",
    "reports.anchor_report": "an anchor's public report",
    "reports.anchor_report_csv": "an anchor's public report",
}

ROLE_DECORATORS = {"role_required", "login_required"}

# Who the user is, as a view might test it to refuse them: these belong in the role
# decorator and the loaders.
WHO = {
    "current_roles",
    "roles_of",
    "is_member_of",
    "is_screener",
    "is_helper",
    "is_returning_officer",
    "can_report",
    "can_screen",
    "is_group_member",
    "funds_the_round",
    "my_organisation_ids",
    "organisations_of",
    "access_to",
}
WHO_HELPERS = re.compile(r"^_(is|can)_")  # a views module's own predicate, such as _is_group_member
WHO_ATTRIBUTES = {"is_platform_admin"}


def _relative(path: Path) -> str:
    return path.relative_to(PACKAGE.parent).as_posix()


def _declares_checks(path: Path) -> bool:
    """The modules where 403 is answered: the role decorator and the loaders."""
    return path.name == "access.py" or _relative(path) == "pb/accounts/permissions.py"


class Module:
    def __init__(self, path: Path):
        self.path = path
        self.tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        self.functions = {node.name: node for node in self.tree.body if isinstance(node, ast.FunctionDef)}
        self.loaders = {
            alias.asname or alias.name
            for node in self.tree.body
            if isinstance(node, ast.ImportFrom) and re.fullmatch(r"pb\.\w+\.access", node.module or "")
            for alias in node.names
            if alias.name.startswith("load_")
        }
        self.blueprints = {
            node.targets[0].id: node.value.args[0].value
            for node in self.tree.body
            if isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Call)
            and _name(node.value.func) == "Blueprint"
        }

    def views(self):
        """(endpoint, function) for each function with a route decorator, at any depth
        (the app's own routes are declared inside the functions that configure it)."""
        for node in ast.walk(self.tree):
            if not isinstance(node, ast.FunctionDef):
                continue
            for decorator in node.decorator_list:
                if (
                    isinstance(decorator, ast.Call)
                    and isinstance(decorator.func, ast.Attribute)
                    and decorator.func.attr == "route"
                    and isinstance(decorator.func.value, ast.Name)
                ):
                    owner = decorator.func.value.id
                    name = next((k.value.value for k in decorator.keywords if k.arg == "endpoint"), node.name)
                    yield (f"{self.blueprints[owner]}.{name}" if owner in self.blueprints else name), node
                    break

    def calls_a_loader_first(self, function: ast.FunctionDef, seen=frozenset()) -> bool:
        """Whether the function's first statement calls a loader, or a function of this
        module whose own first statement does."""
        statements = _body(function)
        if not statements:
            return False
        for node in ast.walk(statements[0]):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            called = node.func.id
            if called in self.loaders:
                return True
            if (
                called in self.functions
                and called not in seen
                and self.calls_a_loader_first(self.functions[called], seen | {called})
            ):
                return True
        return False


def _name(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):
        return _name(node.func)
    return None


def _body(function: ast.FunctionDef) -> list[ast.stmt]:
    body = function.body
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        body = body[1:]
    return body


def _modules() -> list[Module]:
    return [Module(path) for path in sorted(PACKAGE.rglob("*.py")) if "migrations" not in path.parts]


def _answers_403(node) -> bool:
    """abort(403), abort(403 if ... else ...), or werkzeug's Forbidden."""
    if isinstance(node, ast.Call) and _name(node.func) == "abort":
        return any(isinstance(n, ast.Constant) and n.value == 403 for arg in node.args for n in ast.walk(arg))
    return _name(node) == "Forbidden" and isinstance(node, ast.Name | ast.Attribute)


def _tests_who(test) -> bool:
    for node in ast.walk(test):
        if isinstance(node, ast.Call) and (
            _name(node.func) in WHO or (isinstance(node.func, ast.Name) and WHO_HELPERS.match(node.func.id))
        ):
            return True
        if isinstance(node, ast.Attribute) and node.attr in WHO_ATTRIBUTES:
            return True
        if isinstance(node, ast.Name) and node.id == "Access":
            return True
    return False


# ---------------------------------------------------------------- the tests


def test_only_the_declared_checks_answer_403():
    found = []
    for module in _modules():
        if _declares_checks(module.path):
            continue
        found += [f"{_relative(module.path)}:{node.lineno}" for node in ast.walk(module.tree) if _answers_403(node)]
    assert not found, (
        "403 answered outside the role decorator and the loaders (declare it: role_required, or a loader in "
        "the domain's access module):\n" + "\n".join(found)
    )


def test_no_view_tests_who_the_user_is_to_refuse_them():
    """In a module of views, an `if` on who the user is that aborts is a permission decided
    in a body (whatever the status): it belongs in a loader."""
    found = []
    for module in _modules():
        if _declares_checks(module.path) or not any(True for _ in module.views()):
            continue
        for node in ast.walk(module.tree):
            if (
                isinstance(node, ast.If)
                and _tests_who(node.test)
                and any(
                    isinstance(n, ast.Call) and _name(n.func) == "abort" for stmt in node.body for n in ast.walk(stmt)
                )
            ):
                found.append(f"{_relative(module.path)}:{node.lineno}: {ast.unparse(node.test)}")
    assert not found, "permissions decided in the body of a view or its helper:\n" + "\n".join(found)


def test_every_view_declares_who_may_use_it(app):
    undeclared, listed_but_declared, views = [], [], {}
    for module in _modules():
        for endpoint, function in module.views():
            views[endpoint] = f"{_relative(module.path)}:{function.lineno}"
            decorated = {_name(d) for d in function.decorator_list} & ROLE_DECORATORS
            declared = bool(decorated) or module.calls_a_loader_first(function)
            if declared and endpoint in PUBLIC:
                listed_but_declared.append(f"{endpoint} ({views[endpoint]})")
            elif not declared and endpoint not in PUBLIC:
                undeclared.append(f"{endpoint} ({views[endpoint]})")
    routed = {rule.endpoint for rule in app.url_map.iter_rules()} - {"static"}
    assert routed - set(views) == set(), f"routes this test did not find in pb's source: {sorted(routed - set(views))}"
    assert set(PUBLIC) - set(views) == set(), (
        f"PUBLIC lists views that do not exist: {sorted(set(PUBLIC) - set(views))}"
    )
    assert not listed_but_declared, "PUBLIC lists views that declare a permission (take them off):\n" + "\n".join(
        listed_but_declared
    )
    assert not undeclared, (
        "views that declare no permission (a role decorator, a loader called first, or a line in PUBLIC):\n"
        + "\n".join(undeclared)
    )
