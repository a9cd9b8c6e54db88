"""The Auth service from an independent protobuf implementation: every flow of
the identity issue end to end against a real authd and its real SQLite file."""

from __future__ import annotations

import re
import sqlite3
import uuid

import pytest

from auth.v1 import auth_pb2, common_pb2
from authd import Client, RpcError, StatusCode


def fresh_email() -> str:
    return f"py-{uuid.uuid4().hex[:12]}@example.com"


def last_code(database, email: str) -> str:
    """The code of the newest password-reset email, read from the outbox table."""
    with sqlite3.connect(str(database)) as db:
        row = db.execute(
            "SELECT text_body FROM outbox WHERE recipient = ? ORDER BY id DESC LIMIT 1", (email,)
        ).fetchone()
    assert row is not None, f"no email to {email} in the outbox"
    return re.search(r"\b(\d{8})\b", row[0]).group(1)


def test_sign_up_get_me_update_and_login(client: Client):
    email = fresh_email()
    signed_up = client.auth.sign_up(auth_pb2.SignUpRequest(
        email=email.upper(), password="correct horse", attributes={"name": "Py"}))
    token = signed_up.session.token
    assert token.startswith("authd_st_")
    assert signed_up.user.email == email

    me = client.auth.get_me(auth_pb2.GetMeRequest(token=token)).user
    assert me.id == signed_up.user.id and me.attributes == {"name": "Py"}

    updated = client.auth.update_profile(auth_pb2.UpdateProfileRequest(
        token=token, set_attributes={"city": "Oslo"}, remove_attributes=["name"])).user
    assert dict(updated.attributes) == {"city": "Oslo"}

    logged_in = client.auth.login(auth_pb2.LoginRequest(email=email, password="correct horse"))
    assert logged_in.session.token != token

    with pytest.raises(RpcError) as wrong:
        client.auth.login(auth_pb2.LoginRequest(email=email, password="wrong horse"))
    assert wrong.value.code == StatusCode.UNAUTHENTICATED
    assert wrong.value.message == "email or password is wrong"

    client.auth.logout(auth_pb2.LogoutRequest(token=token))
    with pytest.raises(RpcError) as gone:
        client.auth.get_me(auth_pb2.GetMeRequest(token=token))
    assert gone.value.code == StatusCode.UNAUTHENTICATED


def test_password_reset_through_the_outbox(authd, client: Client):
    email = fresh_email()
    session = client.auth.sign_up(auth_pb2.SignUpRequest(email=email, password="forgotten one")).session.token
    answer = client.auth.forgot_password(auth_pb2.ForgotPasswordRequest(email=email))
    assert answer.code_valid_for_seconds == 900
    code = last_code(authd.database, email)

    client.auth.confirm_password(auth_pb2.ConfirmPasswordRequest(email=email, code=code, new_password="remembered one"))
    with pytest.raises(RpcError):
        client.auth.get_me(auth_pb2.GetMeRequest(token=session))
    client.auth.login(auth_pb2.LoginRequest(email=email, password="remembered one"))
    with pytest.raises(RpcError) as reused:
        client.auth.confirm_password(auth_pb2.ConfirmPasswordRequest(email=email, code=code, new_password="third one!"))
    assert reused.value.code == StatusCode.INVALID_ARGUMENT
    assert reused.value.field_violations[0][0] == "code"


def test_bad_input_names_the_field(client: Client):
    with pytest.raises(RpcError) as bad_email:
        client.auth.sign_up(auth_pb2.SignUpRequest(email="not an email", password="correct horse"))
    assert bad_email.value.code == StatusCode.INVALID_ARGUMENT
    assert bad_email.value.field_violations[0][0] == "email"

    with pytest.raises(RpcError) as short:
        client.auth.sign_up(auth_pb2.SignUpRequest(email=fresh_email(), password="five5"))
    assert short.value.field_violations[0][0] == "password"

    with pytest.raises(RpcError) as bad_attribute:
        client.auth.sign_up(auth_pb2.SignUpRequest(email=fresh_email(), password="correct horse",
                                                    attributes={"bad name": "x"}))
    assert bad_attribute.value.field_violations[0][0] == "attributes[bad name]"


def test_change_password_keeps_only_the_callers_session(client: Client):
    email = fresh_email()
    mine = client.auth.sign_up(auth_pb2.SignUpRequest(email=email, password="before change")).session.token
    other = client.auth.login(auth_pb2.LoginRequest(email=email, password="before change")).session.token
    client.auth.change_password(auth_pb2.ChangePasswordRequest(
        token=mine, old_password="before change", new_password="after change"))
    client.auth.get_me(auth_pb2.GetMeRequest(token=mine))
    with pytest.raises(RpcError) as ended:
        client.auth.get_me(auth_pb2.GetMeRequest(token=other))
    assert ended.value.code == StatusCode.UNAUTHENTICATED


def test_duplicate_email_in_another_case(client: Client):
    email = fresh_email()
    client.auth.sign_up(auth_pb2.SignUpRequest(email=email, password="correct horse"))
    with pytest.raises(RpcError) as duplicate:
        client.auth.sign_up(auth_pb2.SignUpRequest(email=email.upper(), password="correct horse"))
    assert duplicate.value.code == StatusCode.ALREADY_EXISTS
