"""Club sign-in and administration rules on SQLite and PostgreSQL: lockout, equal answers and work for unknown
names, server-side session generations, the last admin, temporary passwords, the sign-in log, the cookie key."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from services.accounts import members, passwords, signin
from services.accounts.signin import LOCKOUT, MAX_FAILURES, Outcome
from services.config import cookie_key_problem
from services.errors import Conflict, InvalidInput
from services.store.models import User, utcnow
from services.store.models_accounts_club import LoginEvent

PASSWORD = "correct horse battery"


def test_right_password_signs_in_and_wrong_ones_lock_after_five(session: Session, owner: User) -> None:
    now = utcnow()
    assert signin.sign_in(session, "ann", PASSWORD, now=now).outcome is Outcome.SIGNED_IN
    answers = [signin.sign_in(session, "ann", f"guess {n}", now=now) for n in range(MAX_FAILURES)]
    assert [a.outcome for a in answers] == [Outcome.WRONG] * (MAX_FAILURES - 1) + [Outcome.LOCKED]
    refused = signin.sign_in(session, "ann", PASSWORD, now=now + timedelta(minutes=1))
    assert refused.outcome is Outcome.LOCKED and refused.member is None, "locked even with the right password"
    assert "15 minutes" in refused.message
    later = signin.sign_in(session, "ann", PASSWORD, now=now + LOCKOUT + timedelta(seconds=1))
    assert later.outcome is Outcome.SIGNED_IN and later.member.username == "ann"


def test_unknown_names_get_the_same_answers_and_lock_the_same_way(session: Session, owner: User) -> None:
    now = utcnow()
    known = [signin.sign_in(session, "ann", "nope nope", now=now).message for _ in range(MAX_FAILURES + 1)]
    unknown = [signin.sign_in(session, "nobody", "nope nope", now=now).message for _ in range(MAX_FAILURES + 1)]
    assert known == unknown
    assert signin.sign_in(session, "ANN ", PASSWORD, now=now).outcome is Outcome.LOCKED, "names ignore case"


def test_every_attempt_costs_exactly_one_scrypt(
    session: Session, owner: User, other_owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """About the same time whether the name exists, is disabled or locked: the same single hash each time."""
    calls: list[int] = []
    real = hashlib.scrypt

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(passwords.hashlib, "scrypt", counting)
    members.set_active(session, other_owner.id, False)
    now = utcnow()
    attempts = [("ann", PASSWORD), ("ann", "wrong one"), ("nobody", "wrong one"), ("bob", "another good password")]
    attempts += [("carl", "x")] * (MAX_FAILURES + 1)  # the last one is refused as locked
    for name, password in attempts:
        calls.clear()
        signin.sign_in(session, name, password, now=now)
        assert len(calls) == 1, name


def test_disabled_member_gets_the_wrong_password_answer(session: Session, owner: User, other_owner: User) -> None:
    members.set_active(session, other_owner.id, False)
    result = signin.sign_in(session, "bob", "another good password")
    assert result.outcome is Outcome.WRONG and result.message == "Wrong username or password."


def test_session_generation_ends_sessions(session: Session, owner: User, other_owner: User) -> None:
    member = signin.sign_in(session, "ann", PASSWORD).member
    assert signin.check_session(session, member.id, member.generation) == member
    signin.sign_out(session, member.id)
    assert signin.check_session(session, member.id, member.generation) is None, "a copied cookie dies with sign-out"
    again = signin.sign_in(session, "ann", PASSWORD).member
    assert again.generation == member.generation + 1
    members.set_password(session, again.id, "a brand new password")
    assert signin.check_session(session, again.id, again.generation) is None, "a reset ends every session"
    third = signin.sign_in(session, "ann", "a brand new password").member
    members.set_active(session, other_owner.id, True)  # another member's change leaves ann alone
    assert signin.check_session(session, third.id, third.generation) is not None
    members.set_role(session, other_owner.id, "admin")
    members.set_active(session, third.id, False)
    assert signin.check_session(session, third.id, third.generation) is None, "disabled: refused at once"
    members.set_active(session, third.id, True)
    assert signin.check_session(session, third.id, third.generation) is None, "and re-enabling revives no cookie"
    session.delete(session.get(User, other_owner.id))
    session.flush()
    assert signin.check_session(session, other_owner.id, 1) is None, "deleted member"


def test_the_club_keeps_an_admin(session: Session) -> None:
    ann, _ = members.add_member(session, "ann", PASSWORD, admin=True)
    bob, _ = members.add_member(session, "bob", PASSWORD)
    for action in (
        lambda: members.set_role(session, ann.id, "member"),
        lambda: members.set_active(session, ann.id, False),
    ):
        with pytest.raises(Conflict) as refused:
            action()
        assert refused.value.code == "LAST_ADMIN"
    members.set_role(session, bob.id, "admin")
    members.set_role(session, ann.id, "member")
    with pytest.raises(Conflict):
        members.set_active(session, bob.id, False)
    with pytest.raises(InvalidInput):
        members.set_role(session, bob.id, "owner")


def test_invitation_and_reset_are_temporary_and_must_be_changed(session: Session) -> None:
    members.add_member(session, "ann", PASSWORD, admin=True)
    carl, temporary = members.add_member(session, "carl")
    assert temporary and len(temporary) >= 16
    signed = signin.sign_in(session, "carl", temporary).member
    assert signed.must_change_password
    generation = members.change_own_password(session, carl.id, None, "carl's own password")
    assert generation == signed.generation + 1
    after = signin.sign_in(session, "carl", "carl's own password").member
    assert not after.must_change_password
    with pytest.raises(InvalidInput) as wrong:
        members.change_own_password(session, carl.id, "not it at all", "another password")
    assert wrong.value.code == "WRONG_PASSWORD", "a normal change needs the current password"
    with pytest.raises(InvalidInput):
        members.change_own_password(session, carl.id, "carl's own password", " padded password ")
    shown = members.set_password(session, carl.id)
    assert signin.sign_in(session, "carl", shown).member.must_change_password


def test_sign_in_log_records_events_but_no_password_and_no_strangers_names(session: Session, owner: User) -> None:
    signin.sign_in(session, "ann", PASSWORD)
    signin.sign_in(session, "ann", "ann's wrong guess")
    signin.sign_in(session, "my secret pw typed as a name", "whatever")
    for _ in range(MAX_FAILURES - 1):  # with the one above: the fifth failure locks
        signin.sign_in(session, "ann", "ann's wrong guess")
    events = [(e.username, e.event) for e in session.scalars(select(LoginEvent).order_by(LoginEvent.id))]
    assert events[:3] == [("ann", "signed_in"), ("ann", "wrong_password"), (None, "wrong_password")]
    assert ("ann", "locked_out") in events
    assert [(e.username, e.event) for e in signin.recent_events(session, limit=1)] == [("ann", "locked_out")]
    dump = " ".join(str(row) for row in session.execute(text("SELECT * FROM login_events")).all())
    dump += " ".join(str(row) for row in session.execute(text("SELECT * FROM login_throttles")).all())
    assert "wrong guess" not in dump and "secret pw" not in dump.replace("my secret pw typed as a name", "")
    assert "correct horse" not in dump


def test_club_figures_are_totals_only(session: Session, owner: User, other_owner: User) -> None:
    from services.demo import load_demo
    from services.pricing import valuation

    load_demo(session, owner.id)
    load_demo(session, other_owner.id)
    figures = members.club_figures(session, "EUR")
    one = members.club_figures(session, "EUR")
    assert figures == one and figures.members == 2 and figures.admins == 0
    assert sum(figures.items_by_kind.values()) > 0 and figures.total_value > 0
    assert set(figures.items_by_kind) <= {"coin", "record", "card"}
    each = [valuation(session, member.id, "EUR", sets=False).value for member in (owner, other_owner)]
    assert figures.total_value == float(sum(each))  # each member's total as their `value` shows it


@pytest.mark.parametrize(
    ("key", "fit"),
    [
        (None, False),
        ("", False),
        ("short-key", False),
        ("change-me-change-me-change-me-change-me", False),
        ("some_key_some_key_some_key_some_key_x", False),
        ("a" * 48, False),
        ("Qx7-kd93JfPz0aL2mN5vB8cR1tY4wE6uI9oP3sD7fG0h", True),
    ],
)
def test_cookie_key_must_be_set_long_and_not_a_placeholder(key: str | None, fit: bool) -> None:
    problem = cookie_key_problem(key)
    assert (problem is None) is fit
    if problem and key:
        assert key not in problem, "the message never repeats the key"
