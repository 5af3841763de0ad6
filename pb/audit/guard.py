"""The audit log is append-only in the database itself: triggers refuse any UPDATE or
DELETE of an audit event (and TRUNCATE on PostgreSQL), whoever connects. Someone with
the power to drop or disable the triggers could still rewrite rows; the hash chain is
what catches that (`pb audit verify`)."""

MESSAGE = "audit events are append-only: they cannot be changed or deleted"

SQLITE_CREATE = [
    f"CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
    f"CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
]
SQLITE_DROP = ["DROP TRIGGER IF EXISTS audit_event_no_update", "DROP TRIGGER IF EXISTS audit_event_no_delete"]

POSTGRESQL_CREATE = [
    f"""CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'insufficient_privilege'; END $$""",
    "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event "
    "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()",
    "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()",
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event",
    "DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event",
    "DROP FUNCTION IF EXISTS audit_event_append_only()",
]


def create_statements(dialect: str) -> list[str]:
    return POSTGRESQL_CREATE if dialect == "postgresql" else SQLITE_CREATE


def drop_statements(dialect: str) -> list[str]:
    return POSTGRESQL_DROP if dialect == "postgresql" else SQLITE_DROP


# ---------------------------------------------------------------- in order, and what the votes say
# (migration a7c3e9f1d2b5). Whoever owns the database can drop these; the witnessed heads
# (pb.verify.witness) are what catch that. They hold for every connection, not only pb's.

ORDER_MESSAGE = "an audit event must extend the head of its chain"
HEAD_MESSAGE = "the head of a chain only moves on to the event after it"
BALLOT_MESSAGE = (
    "ballots cannot be deleted or changed, except replaced by their voter while voting is open, and marked counted"
)
RESULT_MESSAGE = "counted results cannot be changed or deleted"

# A ballot row may change in two ways only: its voter replaces it while the round is voting
# (is_current off, superseded_at set), or the count marks it counted. Nothing else changes.
_SQLITE_BALLOT_ALLOWED = """
    NEW.id = OLD.id AND NEW.contest_id = OLD.contest_id AND NEW.voter_id = OLD.voter_id
    AND NEW.channel = OLD.channel AND NEW.receipt = OLD.receipt AND NEW.submission IS OLD.submission
    AND NEW.entered_by_user_id IS OLD.entered_by_user_id AND NEW.cast_at = OLD.cast_at
    AND (
      (NEW.is_current = OLD.is_current AND NEW.superseded_at IS OLD.superseded_at AND NEW.counted = OLD.counted)
      OR (NEW.is_current AND OLD.is_current AND NEW.superseded_at IS OLD.superseded_at AND NEW.counted AND NOT OLD.counted
          AND (SELECT r.phase FROM round r JOIN contest c ON c.round_id = r.id WHERE c.id = NEW.contest_id) = 'closed')
      OR (OLD.is_current AND NOT NEW.is_current AND OLD.superseded_at IS NULL AND NEW.superseded_at IS NOT NULL
          AND NEW.counted = OLD.counted AND NOT OLD.counted
          AND (SELECT r.phase FROM round r JOIN contest c ON c.round_id = r.id WHERE c.id = NEW.contest_id) = 'voting')
    )"""

_SQLITE_VOTING = "(SELECT r.phase FROM round r JOIN contest c ON c.round_id = r.id WHERE c.id = {contest}) = 'voting'"

SQLITE_INTEGRITY_CREATE = [
    # INSERT OR REPLACE deletes a clashing row without firing DELETE triggers: refuse the clash first.
    f"""CREATE TRIGGER audit_event_no_replace BEFORE INSERT ON audit_event
        WHEN EXISTS (SELECT 1 FROM audit_event WHERE id = NEW.id OR (chain = NEW.chain AND seq = NEW.seq))
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    # A head that exists stays (INSERT ... ON CONFLICT DO NOTHING still does nothing).
    """CREATE TRIGGER audit_head_no_replace BEFORE INSERT ON audit_chain_head
        WHEN EXISTS (SELECT 1 FROM audit_chain_head WHERE chain = NEW.chain) BEGIN SELECT RAISE(IGNORE); END""",
    f"""CREATE TRIGGER ballot_cast_while_voting BEFORE INSERT ON ballot
        WHEN EXISTS (SELECT 1 FROM ballot WHERE id = NEW.id OR receipt = NEW.receipt) OR NEW.counted OR NOT NEW.is_current
          OR NOT {_SQLITE_VOTING.format(contest="NEW.contest_id")}
        BEGIN SELECT RAISE(ABORT, '{BALLOT_MESSAGE}'); END""",
    f"""CREATE TRIGGER ballot_choice_with_its_ballot BEFORE INSERT ON ballot_choice
        WHEN EXISTS (SELECT 1 FROM ballot_choice WHERE ballot_id = NEW.ballot_id AND project_id = NEW.project_id)
          OR NOT EXISTS (SELECT 1 FROM ballot b WHERE b.id = NEW.ballot_id AND b.is_current AND NOT b.counted
                         AND {_SQLITE_VOTING.format(contest="b.contest_id")})
        BEGIN SELECT RAISE(ABORT, '{BALLOT_MESSAGE}'); END""",
    f"""CREATE TRIGGER contest_result_once BEFORE INSERT ON contest_result
        WHEN EXISTS (SELECT 1 FROM contest_result WHERE id = NEW.id OR contest_id = NEW.contest_id)
        BEGIN SELECT RAISE(ABORT, '{RESULT_MESSAGE}'); END""",
    f"""CREATE TRIGGER round_turnout_once BEFORE INSERT ON round_turnout
        WHEN EXISTS (SELECT 1 FROM round_turnout WHERE id = NEW.id OR round_id = NEW.round_id)
        BEGIN SELECT RAISE(ABORT, '{RESULT_MESSAGE}'); END""",
    f"""CREATE TRIGGER witnessed_head_no_replace BEFORE INSERT ON witnessed_head
        WHEN EXISTS (SELECT 1 FROM witnessed_head WHERE id = NEW.id) BEGIN SELECT RAISE(ABORT, '{HEAD_MESSAGE}'); END""",
    f"CREATE TRIGGER witnessed_head_no_update BEFORE UPDATE ON witnessed_head BEGIN SELECT RAISE(ABORT, '{HEAD_MESSAGE}'); END",
    f"CREATE TRIGGER witnessed_head_no_delete BEFORE DELETE ON witnessed_head BEGIN SELECT RAISE(ABORT, '{HEAD_MESSAGE}'); END",
    f"""CREATE TRIGGER audit_event_in_order BEFORE INSERT ON audit_event
        WHEN NEW.seq IS NOT (SELECT seq FROM audit_chain_head WHERE chain = NEW.chain) + 1
          OR NEW.prev_hash IS NOT (SELECT head_hash FROM audit_chain_head WHERE chain = NEW.chain)
        BEGIN SELECT RAISE(ABORT, '{ORDER_MESSAGE}'); END""",
    """CREATE TRIGGER audit_event_moves_head AFTER INSERT ON audit_event
        BEGIN UPDATE audit_chain_head SET seq = NEW.seq, head_hash = NEW.entry_hash WHERE chain = NEW.chain; END""",
    f"""CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_chain_head
        WHEN NEW.chain IS NOT OLD.chain
          OR NOT ((NEW.seq = OLD.seq AND NEW.head_hash = OLD.head_hash)
                  OR (NEW.seq = OLD.seq + 1 AND NEW.head_hash IS
                      (SELECT entry_hash FROM audit_event WHERE chain = NEW.chain AND seq = NEW.seq)))
        BEGIN SELECT RAISE(ABORT, '{HEAD_MESSAGE}'); END""",
    f"CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_chain_head BEGIN SELECT RAISE(ABORT, '{HEAD_MESSAGE}'); END",
    f"CREATE TRIGGER ballot_no_delete BEFORE DELETE ON ballot BEGIN SELECT RAISE(ABORT, '{BALLOT_MESSAGE}'); END",
    f"""CREATE TRIGGER ballot_only_replaced BEFORE UPDATE ON ballot WHEN NOT ({_SQLITE_BALLOT_ALLOWED})
        BEGIN SELECT RAISE(ABORT, '{BALLOT_MESSAGE}'); END""",
    f"CREATE TRIGGER ballot_choice_no_update BEFORE UPDATE ON ballot_choice BEGIN SELECT RAISE(ABORT, '{BALLOT_MESSAGE}'); END",
    f"CREATE TRIGGER ballot_choice_no_delete BEFORE DELETE ON ballot_choice BEGIN SELECT RAISE(ABORT, '{BALLOT_MESSAGE}'); END",
    f"CREATE TRIGGER contest_result_no_update BEFORE UPDATE ON contest_result BEGIN SELECT RAISE(ABORT, '{RESULT_MESSAGE}'); END",
    f"CREATE TRIGGER contest_result_no_delete BEFORE DELETE ON contest_result BEGIN SELECT RAISE(ABORT, '{RESULT_MESSAGE}'); END",
    f"CREATE TRIGGER round_turnout_no_update BEFORE UPDATE ON round_turnout BEGIN SELECT RAISE(ABORT, '{RESULT_MESSAGE}'); END",
    f"CREATE TRIGGER round_turnout_no_delete BEFORE DELETE ON round_turnout BEGIN SELECT RAISE(ABORT, '{RESULT_MESSAGE}'); END",
]
SQLITE_INTEGRITY_DROP = [
    f"DROP TRIGGER IF EXISTS {name}"
    for name in (
        "audit_event_no_replace",
        "audit_head_no_replace",
        "ballot_cast_while_voting",
        "ballot_choice_with_its_ballot",
        "contest_result_once",
        "round_turnout_once",
        "witnessed_head_no_replace",
        "witnessed_head_no_update",
        "witnessed_head_no_delete",
        "audit_event_in_order",
        "audit_event_moves_head",
        "audit_head_forward",
        "audit_head_no_delete",
        "ballot_no_delete",
        "ballot_only_replaced",
        "ballot_choice_no_update",
        "ballot_choice_no_delete",
        "contest_result_no_update",
        "contest_result_no_delete",
        "round_turnout_no_update",
        "round_turnout_no_delete",
    )
]

POSTGRESQL_INTEGRITY_CREATE = [
    f"""CREATE FUNCTION audit_event_in_order() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE head audit_chain_head%ROWTYPE;
        BEGIN
          SELECT * INTO head FROM audit_chain_head WHERE chain = NEW.chain FOR UPDATE;
          IF head.chain IS NULL OR NEW.seq IS DISTINCT FROM head.seq + 1 OR NEW.prev_hash IS DISTINCT FROM head.head_hash THEN
            RAISE EXCEPTION '{ORDER_MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
          END IF;
          RETURN NEW;
        END $$""",
    "CREATE TRIGGER audit_event_in_order BEFORE INSERT ON audit_event FOR EACH ROW EXECUTE FUNCTION audit_event_in_order()",
    """CREATE FUNCTION audit_event_moves_head() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN UPDATE audit_chain_head SET seq = NEW.seq, head_hash = NEW.entry_hash WHERE chain = NEW.chain; RETURN NULL; END $$""",
    "CREATE TRIGGER audit_event_moves_head AFTER INSERT ON audit_event FOR EACH ROW EXECUTE FUNCTION audit_event_moves_head()",
    f"""CREATE FUNCTION audit_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'DELETE' OR NEW.chain IS DISTINCT FROM OLD.chain OR NOT (
               (NEW.seq = OLD.seq AND NEW.head_hash = OLD.head_hash)
               OR (NEW.seq = OLD.seq + 1 AND NEW.head_hash IS NOT DISTINCT FROM
                   (SELECT entry_hash FROM audit_event WHERE chain = NEW.chain AND seq = NEW.seq))) THEN
            RAISE EXCEPTION '{HEAD_MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
          END IF;
          RETURN NEW;
        END $$""",
    "CREATE TRIGGER audit_head_forward BEFORE UPDATE OR DELETE ON audit_chain_head FOR EACH ROW EXECUTE FUNCTION audit_head_forward()",
    f"""CREATE FUNCTION ballot_only_replaced() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION '{BALLOT_MESSAGE}' USING ERRCODE = 'insufficient_privilege';
          END IF;
          IF NEW.id = OLD.id AND NEW.contest_id = OLD.contest_id AND NEW.voter_id = OLD.voter_id
             AND NEW.channel = OLD.channel AND NEW.receipt = OLD.receipt
             AND NEW.submission IS NOT DISTINCT FROM OLD.submission
             AND NEW.entered_by_user_id IS NOT DISTINCT FROM OLD.entered_by_user_id AND NEW.cast_at = OLD.cast_at
             AND ((NEW.is_current = OLD.is_current AND NEW.superseded_at IS NOT DISTINCT FROM OLD.superseded_at
                   AND NEW.counted = OLD.counted)
                  OR (NEW.is_current AND OLD.is_current AND NEW.superseded_at IS NOT DISTINCT FROM OLD.superseded_at
                      AND NEW.counted AND NOT OLD.counted
                      AND (SELECT r.phase FROM round r JOIN contest c ON c.round_id = r.id WHERE c.id = NEW.contest_id) = 'closed')
                  OR (OLD.is_current AND NOT NEW.is_current AND OLD.superseded_at IS NULL AND NEW.superseded_at IS NOT NULL
                      AND NEW.counted = OLD.counted AND NOT OLD.counted
                      AND (SELECT r.phase FROM round r JOIN contest c ON c.round_id = r.id WHERE c.id = NEW.contest_id) = 'voting'))
          THEN RETURN NEW; END IF;
          RAISE EXCEPTION '{BALLOT_MESSAGE}' USING ERRCODE = 'insufficient_privilege';
        END $$""",
    "CREATE TRIGGER ballot_only_replaced BEFORE UPDATE OR DELETE ON ballot FOR EACH ROW EXECUTE FUNCTION ballot_only_replaced()",
    f"""CREATE FUNCTION ballot_choice_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '{BALLOT_MESSAGE}' USING ERRCODE = 'insufficient_privilege'; END $$""",
    "CREATE TRIGGER ballot_choice_fixed BEFORE UPDATE OR DELETE ON ballot_choice FOR EACH ROW EXECUTE FUNCTION ballot_choice_fixed()",
    "CREATE TRIGGER ballot_no_truncate BEFORE TRUNCATE ON ballot FOR EACH STATEMENT EXECUTE FUNCTION ballot_choice_fixed()",
    "CREATE TRIGGER ballot_choice_no_truncate BEFORE TRUNCATE ON ballot_choice FOR EACH STATEMENT EXECUTE FUNCTION ballot_choice_fixed()",
    f"""CREATE FUNCTION ballot_cast_while_voting() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.counted OR NOT NEW.is_current OR (SELECT r.phase FROM round r JOIN contest c ON c.round_id = r.id
                                                   WHERE c.id = NEW.contest_id) IS DISTINCT FROM 'voting' THEN
            RAISE EXCEPTION '{BALLOT_MESSAGE}' USING ERRCODE = 'insufficient_privilege';
          END IF;
          RETURN NEW;
        END $$""",
    "CREATE TRIGGER ballot_cast_while_voting BEFORE INSERT ON ballot FOR EACH ROW EXECUTE FUNCTION ballot_cast_while_voting()",
    f"""CREATE FUNCTION ballot_choice_with_its_ballot() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NOT EXISTS (SELECT 1 FROM ballot b JOIN contest c ON c.id = b.contest_id JOIN round r ON r.id = c.round_id
                         WHERE b.id = NEW.ballot_id AND b.is_current AND NOT b.counted AND r.phase = 'voting') THEN
            RAISE EXCEPTION '{BALLOT_MESSAGE}' USING ERRCODE = 'insufficient_privilege';
          END IF;
          RETURN NEW;
        END $$""",
    "CREATE TRIGGER ballot_choice_with_its_ballot BEFORE INSERT ON ballot_choice FOR EACH ROW "
    "EXECUTE FUNCTION ballot_choice_with_its_ballot()",
    f"""CREATE FUNCTION result_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '{RESULT_MESSAGE}' USING ERRCODE = 'insufficient_privilege'; END $$""",
    "CREATE TRIGGER contest_result_fixed BEFORE UPDATE OR DELETE ON contest_result FOR EACH ROW EXECUTE FUNCTION result_fixed()",
    "CREATE TRIGGER round_turnout_fixed BEFORE UPDATE OR DELETE ON round_turnout FOR EACH ROW EXECUTE FUNCTION result_fixed()",
    "CREATE TRIGGER contest_result_no_truncate BEFORE TRUNCATE ON contest_result FOR EACH STATEMENT EXECUTE FUNCTION result_fixed()",
    "CREATE TRIGGER round_turnout_no_truncate BEFORE TRUNCATE ON round_turnout FOR EACH STATEMENT EXECUTE FUNCTION result_fixed()",
    "CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_chain_head FOR EACH STATEMENT EXECUTE FUNCTION result_fixed()",
    "CREATE TRIGGER witnessed_head_fixed BEFORE UPDATE OR DELETE ON witnessed_head FOR EACH ROW EXECUTE FUNCTION result_fixed()",
    "CREATE TRIGGER witnessed_head_no_truncate BEFORE TRUNCATE ON witnessed_head FOR EACH STATEMENT EXECUTE FUNCTION result_fixed()",
]
POSTGRESQL_INTEGRITY_DROP = [
    "DROP TRIGGER IF EXISTS witnessed_head_no_truncate ON witnessed_head",
    "DROP TRIGGER IF EXISTS witnessed_head_fixed ON witnessed_head",
    "DROP TRIGGER IF EXISTS audit_head_no_truncate ON audit_chain_head",
    "DROP TRIGGER IF EXISTS round_turnout_no_truncate ON round_turnout",
    "DROP TRIGGER IF EXISTS contest_result_no_truncate ON contest_result",
    "DROP TRIGGER IF EXISTS round_turnout_fixed ON round_turnout",
    "DROP TRIGGER IF EXISTS contest_result_fixed ON contest_result",
    "DROP FUNCTION IF EXISTS result_fixed()",
    "DROP TRIGGER IF EXISTS ballot_no_truncate ON ballot",
    "DROP TRIGGER IF EXISTS ballot_choice_no_truncate ON ballot_choice",
    "DROP TRIGGER IF EXISTS ballot_choice_fixed ON ballot_choice",
    "DROP FUNCTION IF EXISTS ballot_choice_fixed()",
    "DROP TRIGGER IF EXISTS ballot_choice_with_its_ballot ON ballot_choice",
    "DROP FUNCTION IF EXISTS ballot_choice_with_its_ballot()",
    "DROP TRIGGER IF EXISTS ballot_cast_while_voting ON ballot",
    "DROP FUNCTION IF EXISTS ballot_cast_while_voting()",
    "DROP TRIGGER IF EXISTS ballot_only_replaced ON ballot",
    "DROP FUNCTION IF EXISTS ballot_only_replaced()",
    "DROP TRIGGER IF EXISTS audit_head_forward ON audit_chain_head",
    "DROP FUNCTION IF EXISTS audit_head_forward()",
    "DROP TRIGGER IF EXISTS audit_event_moves_head ON audit_event",
    "DROP FUNCTION IF EXISTS audit_event_moves_head()",
    "DROP TRIGGER IF EXISTS audit_event_in_order ON audit_event",
    "DROP FUNCTION IF EXISTS audit_event_in_order()",
]


def integrity_create_statements(dialect: str) -> list[str]:
    return POSTGRESQL_INTEGRITY_CREATE if dialect == "postgresql" else SQLITE_INTEGRITY_CREATE


def integrity_drop_statements(dialect: str) -> list[str]:
    return POSTGRESQL_INTEGRITY_DROP if dialect == "postgresql" else SQLITE_INTEGRITY_DROP
