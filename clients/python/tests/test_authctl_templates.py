"""authctl templates get / set / reset / preview, driven as a subprocess against a
real authd; the rendered template then reaches the outbox."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from auth.v1 import auth_pb2
from conftest import AuthdServer
from test_authctl import Authctl, authctl_binary, first_admin_key  # noqa: F401 (fixture)


def ctl_for(server: AuthdServer, binary: Path) -> Authctl:
    return Authctl(binary, f"{server.host}:{server.port}", key_file=first_admin_key(server))


def test_templates_get_set_preview_reset(start_authd, authctl_binary, tmp_path):
    server = start_authd("--scrypt-log-n", "10")
    ctl = ctl_for(server, authctl_binary)

    built_in = ctl.run("templates", "get", "verification-code", "--json")
    assert built_in.code == 0, str(built_in)
    assert built_in.json["template"]["is_default"] is True
    assert "{{code}}" in built_in.json["template"]["text_body"]

    (tmp_path / "subject.txt").write_text("Code for {{attributes.name}}\n")
    (tmp_path / "text.txt").write_text("Hi {{attributes.name}}: {{code}}")
    (tmp_path / "html.txt").write_text("<p>Hi {{attributes.name}}: <b>{{code}}</b></p>")
    saved = ctl.run("templates", "set", "verification-code", "--subject-file", str(tmp_path / "subject.txt"),
                    "--text-file", str(tmp_path / "text.txt"), "--html-file", str(tmp_path / "html.txt"), "--json")
    assert saved.code == 0, str(saved)
    assert saved.json["template"]["subject"] == "Code for {{attributes.name}}"
    assert saved.json["template"]["is_default"] is False

    preview = ctl.run("templates", "preview", "verification-code", "--value", "attributes.name=<Ann>",
                      "--value", "code=00001111", "--json")
    assert preview.code == 0, str(preview)
    assert preview.json["subject"] == "Code for <Ann>"
    assert preview.json["text_body"] == "Hi <Ann>: 00001111"
    assert preview.json["html_body"] == "<p>Hi &lt;Ann&gt;: <b>00001111</b></p>"

    with server.client() as client:
        client.auth.sign_up(auth_pb2.SignUpRequest(email="ann@example.com", password="correct horse",
                                                    attributes={"name": "Ann & Co"}))
        client.auth.forgot_password(auth_pb2.ForgotPasswordRequest(email="ann@example.com"))
    with sqlite3.connect(str(server.database)) as db:
        subject, text, html = db.execute(
            "SELECT subject, text_body, html_body FROM outbox WHERE recipient = ?", ("ann@example.com",)).fetchone()
    assert subject == "Code for Ann & Co"
    assert text.startswith("Hi Ann & Co: ")
    assert html.startswith("<p>Hi Ann &amp; Co: <b>")

    (tmp_path / "bad.txt").write_text("no code here {{cdoe}}")
    refused = ctl.run("templates", "set", "verification-code", "--text-file", str(tmp_path / "bad.txt"))
    assert refused.code == 65, str(refused)
    assert "{{cdoe}}" in refused.stderr

    reset = ctl.run("templates", "reset", "verification-code", "--json")
    assert reset.code == 0 and reset.json["template"]["is_default"] is True
    assert ctl.run("templates", "set", "verification-code").code == 64
    assert ctl.run("templates", "get", "nonsense").code == 64
