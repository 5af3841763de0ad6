"""Reading the audit log: the platform chain is shown to platform admins."""

from flask import Blueprint, render_template
from sqlmodel import select

from pb.accounts.models import Organisation, Role, User
from pb.accounts.permissions import role_required
from pb.audit.chain import verify_chain
from pb.audit.models import PLATFORM_CHAIN, AuditEvent
from pb.db import db_session

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.route("/platform")
@role_required(Role.PLATFORM_ADMIN)
def platform_log():
    session = db_session()
    rows = session.exec(
        select(AuditEvent, User, Organisation)
        .join(User, User.id == AuditEvent.actor_user_id, isouter=True)
        .join(Organisation, Organisation.id == AuditEvent.organisation_id, isouter=True)
        .where(AuditEvent.chain == PLATFORM_CHAIN)
        .order_by(AuditEvent.seq.desc())
        .limit(500)
    ).all()
    return render_template("audit/log.html", rows=rows, verification=verify_chain(session, PLATFORM_CHAIN))
