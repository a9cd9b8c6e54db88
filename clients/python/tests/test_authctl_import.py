"""authctl users import / export, driven as a subprocess against a real authd.

See test_authctl.py for how authctl is run; the server's first admin key file is
<database>.admin-key.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from conftest import AuthdServer
from test_authctl import Authctl, authctl_binary, first_admin_key, free_port  # noqa: F401 (fixture)


def ctl_for(server: AuthdServer, binary: Path) -> Authctl:
    return Authctl(binary, f"{server.host}:{server.port}", key_file=first_admin_key(server))


def export_rows(ctl: Authctl, tmp_path: Path) -> list:
    out = tmp_path / "export.csv"
    result = ctl.run("users", "export", "--output", str(out), "--page-size", "3")
    assert result.code == 0, str(result)
    with open(out, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_import_reports_every_row_across_chunks(start_authd, authctl_binary, tmp_path):
    server = start_authd("--scrypt-log-n", "10")
    ctl = ctl_for(server, authctl_binary)
    assert ctl.run("roles", "add", "Premium").code == 0
    lines = ["\ufeffemail,name,password,roles"]
    for i in range(20):
        lines.append(f"user{i}@example.com,User {i},,Premium")
    lines.insert(5, ",no email,,")                       # line 6
    lines.insert(9, '"multi@example.com","two\nlines",,')  # lines 10-11
    lines.append("user3@example.com,again,,")               # duplicate across chunks: skipped (exists)
    lines.append("short@example.com,S,abc,")
    lines.append("ghost@example.com,G,,Ghost")
    path = tmp_path / "users.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = ctl.run("users", "import", str(path), "--chunk-rows", "4")
    assert result.code == 65, str(result)  # some rows were errors
    out = result.stdout
    assert "line 6: error: email is required" in out
    assert re.search(r"line \d+: skipped user3@example.com: a user with this email already exists", out), out
    assert re.search(r"line \d+: error short@example.com: password must have at least 6", out), out
    assert re.search(r"line \d+: error ghost@example.com: role 'Ghost' does not exist", out), out
    assert "25 records: 21 created, 0 updated, 1 skipped, 3 errors" in out, out

    rows = {r["email"]: r for r in export_rows(ctl, tmp_path)}
    assert len(rows) == 21
    assert rows["multi@example.com"]["name"] == "two\nlines"
    assert rows["user0@example.com"]["roles"] == "Premium"


def test_dry_run_changes_nothing(start_authd, authctl_binary, tmp_path):
    server = start_authd("--scrypt-log-n", "10")
    ctl = ctl_for(server, authctl_binary)
    path = tmp_path / "users.csv"
    path.write_text("email,password\nada@example.com,secret1\nbob@example.com,\n", encoding="utf-8")
    result = ctl.run("users", "import", str(path), "--dry-run", "--json")
    assert result.code == 0, str(result)
    assert result.json["created"] == 2 and result.json["dry_run"] is True
    assert export_rows(ctl, tmp_path) == []


def test_generated_passwords_and_update(start_authd, authctl_binary, tmp_path):
    server = start_authd("--scrypt-log-n", "10")
    ctl = ctl_for(server, authctl_binary)
    path = tmp_path / "users.csv"
    path.write_text("email,city\nada@example.com,Paris\n", encoding="utf-8")
    result = ctl.run("users", "import", str(path), "--generate-passwords")
    assert result.code == 0, str(result)
    assert re.search(r"line 2: created ada@example.com, generated password \(shown once\): \S{20}", result.stdout), result.stdout
    path.write_text("email,city\nada@example.com,Lyon\n", encoding="utf-8")
    assert ctl.run("users", "import", str(path), "--on-existing", "fail").code == 65
    result = ctl.run("users", "import", str(path), "--on-existing", "update")
    assert result.code == 0 and "1 updated" in result.stdout, str(result)
    assert export_rows(ctl, tmp_path)[0]["city"] == "Lyon"


def test_failed_chunk_says_where_to_resume(start_authd, authctl_binary, tmp_path):
    server = start_authd("--scrypt-log-n", "10")
    ctl = ctl_for(server, authctl_binary)
    path = tmp_path / "users.csv"
    path.write_text("email\n" + "".join(f"u{i}@example.com\n" for i in range(10)), encoding="utf-8")
    # A server that is not there: the first chunk fails, nothing is imported.
    gone = Authctl(authctl_binary, f"127.0.0.1:{free_port()}", key_file=first_admin_key(server))
    result = gone.run("users", "import", str(path), "--chunk-rows", "3", "--start-line", "5")
    assert result.code == 69, str(result)
    assert "resume with: --start-line 5" in result.stderr, result.stderr
    # Resuming imports from that line on.
    result = ctl.run("users", "import", str(path), "--chunk-rows", "3", "--start-line", "5")
    assert result.code == 0, str(result)
    assert "7 records: 7 created" in result.stdout, result.stdout
    assert sorted(r["email"] for r in export_rows(ctl, tmp_path)) == sorted(f"u{i}@example.com" for i in range(3, 10))


def test_unbalanced_quote_and_bad_utf8_are_reported(start_authd, authctl_binary, tmp_path):
    server = start_authd("--scrypt-log-n", "10")
    ctl = ctl_for(server, authctl_binary)
    path = tmp_path / "users.csv"
    path.write_bytes(b"email,name\nada@example.com,Ada\nbad@example.com,\xff\xfe\nx@example.com,\"open\nnever closed\n")
    result = ctl.run("users", "import", str(path))
    assert result.code == 65, str(result)
    assert "line 3: error: the record is not valid UTF-8" in result.stdout, result.stdout
    assert "line 4: error: unbalanced quotes: the quoted field opened on line 4 never closes" in result.stdout, result.stdout


def test_export_reimports_to_the_same_users(start_authd, authctl_binary, tmp_path):
    source = start_authd("--scrypt-log-n", "10")
    ctl = ctl_for(source, authctl_binary)
    for role in ("Admin", "Premium"):
        assert ctl.run("roles", "add", role).code == 0
    path = tmp_path / "users.csv"
    path.write_text(
        'email,name,note,roles,blocked\n'
        'ada@example.com,"Ada, C.","say ""hi""",Admin;Premium,false\n'
        'bob@example.com,Bob,"two\nlines",,true\n'
        'cy@example.com,,,Premium,\n', encoding="utf-8")
    assert ctl.run("users", "import", str(path)).code == 0
    exported = tmp_path / "all.csv"
    assert ctl.run("users", "export", "-o", str(exported)).code == 0

    target = start_authd("--scrypt-log-n", "10")
    ctl2 = ctl_for(target, authctl_binary)
    for role in ("Admin", "Premium"):
        assert ctl2.run("roles", "add", role).code == 0
    result = ctl2.run("users", "import", str(exported))
    assert result.code == 0 and "3 created" in result.stdout, str(result)

    def strip(rows):
        return sorted(tuple(sorted((k, v) for k, v in r.items() if k not in ("id", "created_at", "updated_at"))) for r in rows)

    before = export_rows(ctl, tmp_path)
    after = export_rows(ctl2, tmp_path)
    assert strip(before) == strip(after)
    assert {r["email"]: r["blocked"] for r in after}["bob@example.com"] == "true"
    # The export to stdout is the same document.
    stdout = ctl.run("users", "export")
    assert stdout.code == 0
    assert list(csv.DictReader(io.StringIO(stdout.stdout))) == before


def test_export_escapes_formula_cells(start_authd, authctl_binary, tmp_path):
    """Cells a spreadsheet would run (= + - @ tab CR) are exported with a leading
    apostrophe; `users import` takes it off again, so the export round-trips.
    (The file's `''=already` is the escaped form of the value `'=already`.)"""
    source = start_authd("--scrypt-log-n", "10")
    ctl = ctl_for(source, authctl_binary)
    path = tmp_path / "users.csv"
    path.write_text(
        'email,link,sum,neg,at,quoted,plain\n'
        'ada@example.com,"=HYPERLINK(""http://evil.example"",""x"")",+1+1,-5,@SUM(A1),\'\'=already,a=b\n',
        encoding="utf-8")
    assert ctl.run("users", "import", str(path)).code == 0
    before = export_rows(ctl, tmp_path)
    row = before[0]
    assert row["link"] == "'=HYPERLINK(\"http://evil.example\",\"x\")", row
    assert (row["sum"], row["neg"], row["at"]) == ("'+1+1", "'-5", "'@SUM(A1)"), row
    assert row["quoted"] == "''=already" and row["plain"] == "a=b", row
    assert not any(v[:1] in ("=", "+", "-", "@", "\t", "\r") for v in row.values()), row

    exported = tmp_path / "all.csv"
    assert ctl.run("users", "export", "-o", str(exported)).code == 0
    target = start_authd("--scrypt-log-n", "10")
    ctl2 = ctl_for(target, authctl_binary)
    result = ctl2.run("users", "import", str(exported))
    assert result.code == 0 and "1 created" in result.stdout, str(result)
    after = export_rows(ctl2, tmp_path)
    # Stored values are the originals (an unescaped import would add a second apostrophe).
    assert {k: v for k, v in after[0].items() if k not in ("id", "created_at", "updated_at")} == \
        {k: v for k, v in row.items() if k not in ("id", "created_at", "updated_at")}
