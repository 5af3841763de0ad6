"""A realistic demo, so that a newcomer can sign in as each kind of user and click around."""

import click
from sqlmodel import select

from pb.accounts import services
from pb.accounts.models import Organisation
from pb.db import session_scope

DEMO_PASSWORD = "demo-password-2026"

ORGANISATIONS = [
    ("Riverside and Eastgate NHS Foundation Trust", "anchor", "nhs"),
    ("Northfield Homes Housing Association", "anchor", "housing_association"),
    ("Eastgate Residents' Association", "group", "residents_association"),
    ("Green Corner Community Garden CIC", "group", "cic"),
]

USERS = [
    # email, name, organisation (None for the platform admin), platform admin?
    ("admin@demo.pb.example", "Priya Shah", None, True),
    ("lead@riverside-nhs.example", "Dr Tom Okafor", "Riverside and Eastgate NHS Foundation Trust", False),
    ("lead@northfield-homes.example", "Aisha Rahman", "Northfield Homes Housing Association", False),
    ("chair@eastgate-ra.example", "Margaret Evans", "Eastgate Residents' Association", False),
    ("hello@greencorner.example", "Dewi Jones", "Green Corner Community Garden CIC", False),
]


def load_demo(*, if_empty: bool = False) -> None:
    with session_scope() as session:
        if session.exec(select(Organisation)).first() is not None:
            if if_empty:
                click.echo("The database already has data; demo not loaded again.")
                _print_credentials()
                return
            raise click.ClickException("The database already has organisations; use a fresh database for the demo.")
        admin = None
        by_name = {}
        for email, name, _org, is_admin in USERS:
            if is_admin:
                admin = services.create_user(
                    session, email=email, name=name, password=DEMO_PASSWORD, is_platform_admin=True
                )
        for name, kind, subtype in ORGANISATIONS:
            by_name[name] = services.create_organisation(session, actor=admin, name=name, kind=kind, subtype=subtype)
        for email, name, org, is_admin in USERS:
            if not is_admin:
                user = services.create_user(session, email=email, name=name, password=DEMO_PASSWORD, actor=admin)
                services.add_member(session, actor=admin, organisation=by_name[org], user=user)
    click.echo("Demo loaded.")
    _print_credentials()


def _print_credentials() -> None:
    click.echo(f"Demo users (password for all: {DEMO_PASSWORD}):")
    for email, name, org, is_admin in USERS:
        role = "platform admin" if is_admin else org
        click.echo(f"  {email:34} {name} – {role}")
