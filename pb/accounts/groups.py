"""Pages for community groups: registering a group, inviting members, accepting an invitation."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlmodel import col, select

from pb.accounts import services
from pb.accounts.access import load_group_as_member
from pb.accounts.models import (
    Invitation,
    Membership,
    Organisation,
    User,
)
from pb.db import db_session
from pb.links import public_url
from pb.mail import send_mail
from pb.proposals.forms import GroupForm, InviteForm
from pb.throttle import may_mail, note_attempt, reached
from pb.views import form_page, refuse

bp = Blueprint("groups", __name__, url_prefix="/groups")


@bp.route("/new", methods=["GET", "POST"])
@login_required
def register():
    form = GroupForm()
    if form.validate_on_submit():
        try:
            group = services.register_group(
                db_session(),
                actor=current_user,
                name=form.name.data,
                subtype=form.subtype.data,
                registered_number=form.registered_number.data,
                contact_email=form.contact_email.data,
                area_served=form.area_served.data,
            )
        except services.AccountError as error:
            form.name.errors.append(str(error))
        else:
            flash(
                _("%(name)s is registered. You can now invite other members and propose projects.", name=group.name),
                "success",
            )
            return redirect(url_for("groups.show", organisation_id=group.id))
    return form_page("groups/register.html", form)


@bp.route("/<int:organisation_id>", methods=["GET", "POST"])
@login_required
def show(organisation_id):
    group = load_group_as_member(organisation_id)
    session = db_session()
    form = InviteForm()
    if form.validate_on_submit():
        try:
            if not _may_invite(session, form.email.data):
                raise services.AccountError(_("Too many attempts. Please wait a while and try again."))
            token = services.invite_member(session, actor=current_user, organisation=group, email=form.email.data)
        except services.AccountError as error:
            form.email.errors.append(str(error))
        else:
            link = public_url("groups.accept", token=token)
            send_mail(
                form.email.data,
                _("You are invited to join %(group)s on pb", group=group.name),
                _(
                    "%(name)s invites you to join %(group)s on pb, to propose projects for participatory budgeting rounds.\n\n"
                    "To accept, open this link within 14 days (you will be asked to sign in or create an account with this address):\n%(link)s",
                    name=current_user.name,
                    group=group.name,
                    link=link,
                ),
            )
            flash(_("We have emailed an invitation to %(email)s.", email=form.email.data), "success")
            return redirect(url_for("groups.show", organisation_id=group.id))
    members = session.exec(
        select(User)
        .join(Membership, col(Membership.user_id) == col(User.id))
        .where(Membership.organisation_id == group.id)
        .order_by(User.name)
    ).all()
    pending = session.exec(
        select(Invitation)
        .where(Invitation.organisation_id == group.id, col(Invitation.accepted_at).is_(None))
        .order_by(col(Invitation.created_at))
    ).all()
    return form_page("groups/show.html", form, group=group, members=members, pending=pending)


def _may_invite(session, email: str) -> bool:
    """An invitation is mail a member makes pb send, with words of their choosing, to any
    address: like sign-up and reset mail, a few an hour to one inbox and from one client,
    and at most INVITES_PER_MEMBER an hour from one account (whatever its addresses)."""
    if reached(session, f"invite-mail:user:{current_user.id}", limit=INVITES_PER_MEMBER, window_seconds=3600):
        return False
    if not may_mail(session, "invite-mail", email):
        return False
    note_attempt(session, f"invite-mail:user:{current_user.id}")
    return True


INVITES_PER_MEMBER = 20


@bp.route("/invitations/<token>", methods=["GET", "POST"])
@login_required
def accept(token):
    session = db_session()
    invitation = services.invitation_for_token(session, token)
    if invitation is None:
        return render_template("groups/invitation_invalid.html"), 404
    group = session.get_one(Organisation, invitation.organisation_id)
    if request.method == "POST":
        try:
            services.accept_invitation(session, invitation, user=current_user)
        except services.AccountError as error:
            refuse((render_template("groups/accept.html", group=group, error=str(error)), 403))
        flash(_("You are now a member of %(group)s.", group=group.name), "success")
        return redirect(url_for("groups.show", organisation_id=group.id))
    return render_template("groups/accept.html", group=group, error=None)
