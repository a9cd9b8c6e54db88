"""The systemd_units helper against systemd's documented rules: the examples of
systemd.service(5) "Command lines", systemd.exec(5) EnvironmentFile= and
systemd.syntax(7), quoted where they are given, so that test_deploy.py can trust
what the helper says systemd executes."""

from __future__ import annotations

import pytest

from systemd_units import (
    UnitSyntaxError,
    command_line,
    expand_argv,
    parse_environment_assignments,
    parse_environment_file,
    parse_exec,
    parse_unit,
    service_environment,
    unit_values,
)


def executed(exec_start: str, env, specifiers=None):
    """argv of each command of an ExecStart= value, after expansion."""
    return [command_line(c, env)[1] for c in parse_exec(exec_start, specifiers or {})]


# ---- systemd.service(5), "Command lines" ----------------------------------------------


def test_manual_example_dollar_var_splits_and_braces_keep_one_argument():
    # Environment="ONE=one" 'TWO=two two'
    # ExecStart=echo $ONE $TWO ${TWO}
    # "This will execute /bin/echo with four arguments: "one", "two", "two", and "two two"."
    env = parse_environment_assignments('"ONE=one" \'TWO=two two\'')
    assert env == {"ONE": "one", "TWO": "two two"}
    assert executed("/bin/echo $ONE $TWO ${TWO}", env) == [["/bin/echo", "one", "two", "two", "two two"]]


def test_manual_example_quotes_inside_values():
    # Environment=ONE='one' "TWO='two two' too" THREE=
    # ExecStart=/bin/echo ${ONE} ${TWO} ${THREE}
    # ExecStart=/bin/echo $ONE $TWO $THREE
    # The manual of systemd 252 says the first gets "'one'"; that was a mistake in the
    # manual (systemd issue #42442, fixed by PR #42753): quotes are removed when
    # Environment= is unquoted, so ONE is one. The rest is as documented.
    env = parse_environment_assignments("ONE='one' \"TWO='two two' too\" THREE=")
    assert env == {"ONE": "one", "TWO": "'two two' too", "THREE": ""}
    assert executed("/bin/echo ${ONE} ${TWO} ${THREE}", env) == [["/bin/echo", "one", "'two two' too", ""]]
    assert executed("/bin/echo $ONE $TWO $THREE", env) == [["/bin/echo", "one", "two two", "too"]]


def test_a_literal_dollar_and_unknown_variables():
    # "To pass a literal dollar sign, use "$$". Variables whose value is not known at
    # expansion time are treated as empty strings."
    assert executed("/bin/echo $$HOME cost$$5 ${NOPE} x${NOPE}y $NOPE", {}) == [["/bin/echo", "$HOME", "cost$5", "", "xy"]]


def test_braces_inside_a_word_substitute_exactly_and_a_bare_dollar_inside_a_word_does_not():
    env = {"FROM": "Example <no-reply@example.com>", "A": "a b"}
    assert executed("/bin/x --mail-from=${FROM} pre$A ${A}post", env) == [
        ["/bin/x", "--mail-from=Example <no-reply@example.com>", "pre$A", "a bpost"]]
    # ":-" defaults are not supported on command lines: kept as written.
    assert executed("/bin/x ${A:-b}", env) == [["/bin/x", "${A:-b}"]]


def test_the_crash_loop_of_issue_9():
    """The old deploy/authd.service had `--mail-from $AUTHD_MAIL_FROM`: two arguments."""
    env = parse_environment_file('AUTHD_MAIL_FROM="Example <no-reply@example.com>"\n')
    assert executed("/usr/local/bin/authd --mail-from $AUTHD_MAIL_FROM", env) == [
        ["/usr/local/bin/authd", "--mail-from", "Example", "<no-reply@example.com>"]]
    assert executed("/usr/local/bin/authd --mail-from ${AUTHD_MAIL_FROM}", env) == [
        ["/usr/local/bin/authd", "--mail-from", "Example <no-reply@example.com>"]]
    # Quoting "$AUTHD_MAIL_FROM" in the unit does not help: the quotes go at unquoting,
    # and the word is then exactly $AUTHD_MAIL_FROM, split at exec time.
    assert executed('/usr/local/bin/authd --mail-from "$AUTHD_MAIL_FROM"', env) == [
        ["/usr/local/bin/authd", "--mail-from", "Example", "<no-reply@example.com>"]]


def test_split_values_respect_quotes_and_backslashes():
    env = {"ARGS": "a 'b c' \"d e\" f\\ g", "EMPTY": "", "SPACES": "   "}
    assert executed("/bin/x $ARGS $EMPTY $SPACES", env) == [["/bin/x", "a", "b c", "d e", "f g"]]


def test_semicolons_separate_commands():
    # ExecStart=echo one ; echo "two two"
    assert executed('/bin/echo one ; /bin/echo "two two"', {}) == [["/bin/echo", "one"], ["/bin/echo", "two two"]]
    # ExecStart=echo / >/dev/null & \; \
    #           ls
    # "This will execute echo with five arguments: "/", ">/dev/null", "&", ";", and "ls"."
    unit = parse_unit("[Service]\nExecStart=/bin/echo / >/dev/null & \\; \\\n          ls\n")
    assert executed(unit_values(unit, "Service", "ExecStart")[0], {}) == [["/bin/echo", "/", ">/dev/null", "&", ";", "ls"]]


def test_prefixes_and_argv0():
    [ignore] = parse_exec("-/bin/false")
    assert ignore.ignore_failure and ignore.argv == ["/bin/false"]
    [raw] = parse_exec(":/bin/echo $HOME")
    assert command_line(raw, {"HOME": "/root"}) == ("/bin/echo", ["/bin/echo", "$HOME"])
    [separate] = parse_exec("@/bin/sh myname -c true")
    assert (separate.path, separate.argv) == ("/bin/sh", ["myname", "-c", "true"])
    [privileged] = parse_exec("+/bin/true")
    assert privileged.privileged == "+"
    [ambient] = parse_exec("!!/bin/true")
    assert ambient.privileged == "!!" and ambient.path == "/bin/true"
    with pytest.raises(UnitSyntaxError):
        parse_exec("+!/bin/true")  # "!" after "+" is no modifier: the path would be "!/bin/true"
    with pytest.raises(UnitSyntaxError):
        parse_exec("relative-command")  # outside this helper: systemd searches a fixed PATH


def test_the_executable_path_is_not_expanded():
    # "Note that the first argument (i.e. the program to execute) may not be a variable."
    [command] = parse_exec("/opt/${X}/bin/x ${X}")
    assert command_line(command, {"X": "y"}) == ("/opt/${X}/bin/x", ["/opt/y/bin/x", "y"])


def test_unquoting_and_c_escapes_of_systemd_syntax():
    # systemd.syntax(7), Quoting: quotes wrap an item and are removed; C escapes, \s is a space.
    assert executed("/bin/x 'a b' \"c\\td\" e\\sf \"g\\\"h\" 'i\\'j' \\x41\\u00e9 \\q", {}) == [
        ["/bin/x", "a b", "c\td", "e f", 'g"h', "i'j", "Aé", "\\q"]]  # an unknown escape is kept, with a warning
    with pytest.raises(UnitSyntaxError):
        parse_exec("/bin/x 'unbalanced")


def test_specifiers():
    assert executed("/bin/x --key-file %d/mailer.key 100%%", {}, {"d": "/run/credentials/x.service"}) == [
        ["/bin/x", "--key-file", "/run/credentials/x.service/mailer.key", "100%"]]
    with pytest.raises(UnitSyntaxError):
        parse_exec("/bin/x %Z")


# ---- systemd.syntax(7): the unit file ---------------------------------------------------


def test_unit_file_continuations_and_comments():
    # "Lines ending in a backslash are concatenated with the following line while reading
    # and the backslash is replaced by a space character. ... When a comment line or lines
    # follow a line ending with a backslash, the comment block is ignored."
    unit = parse_unit(
        "# leading comment\n"
        "[Unit]\n"
        "Description=x\n"
        "\n"
        "[Service]\n"
        "; another comment\n"
        "ExecStart=/bin/echo one \\\n"
        "# a comment inside the continuation\n"
        "  two \\\\\n"
        "Environment=A=1\n"
        "Environment=B=2\n")
    assert unit_values(unit, "Service", "ExecStart") == ["/bin/echo one    two \\\\"]
    assert executed(unit_values(unit, "Service", "ExecStart")[0], {}) == [["/bin/echo", "one", "two", "\\"]]
    assert unit_values(unit, "Service", "Environment") == ["A=1", "B=2"]
    assert unit_values(unit, "Unit", "Description") == ["x"]


# ---- systemd.exec(5): EnvironmentFile= ------------------------------------------------


def test_environment_file_unquoted_values():
    # "an unquoted value after the "=" is parsed with the same backslash-escape rules as
    # unquoted text in a POSIX shell, but unlike in a shell, interior whitespace is
    # preserved and quotes after the first non-whitespace character are preserved.
    # Leading and trailing whitespace (space, tab, carriage return) is discarded"
    env = parse_environment_file(
        "A=  two  words  \n"
        "B=it's \"quoted\"\n"
        "C=back\\\\slash\\ kept\\x\n"
        "D=continued \\\n"
        "line\n"
        "E=\n"
        "  F = spaced key\n")
    assert env == {"A": "two  words", "B": "it's \"quoted\"", "C": "back\\slash keptx",
                   "D": "continued line", "E": "", "F": "spaced key"}


def test_environment_file_quoted_values():
    # "a single-quoted value ... can span multiple lines and contain any character
    # verbatim other than single quote ... No backslash-escape sequences are recognized."
    # "a double-quoted value ... Backslash followed by any of "\`$ will preserve that
    # character. A backslash followed by newline is a line continuation ... A backslash
    # followed by any other character is ignored; both the backslash and the following
    # character are preserved verbatim."
    env = parse_environment_file(
        "S='a \\n \"b\"\n  c'\n"
        "D=\"x \\\" \\$HOME \\\\ \\n y\\\nz\"\n"
        "M=\"Example <no-reply@example.com>\"   \n"
        "J=\"one\"two\n")
    assert env == {"S": "a \\n \"b\"\n  c", "D": "x \" $HOME \\ \\n yz",
                   "M": "Example <no-reply@example.com>", "J": "onetwo"}


def test_environment_file_comments_and_bad_lines():
    # "Empty lines, lines without an "=" separator, or lines starting with ";" or "#"
    # will be ignored"
    env = parse_environment_file("# c\n; c\n\nNO_EQUALS\n  # indented comment\nOK=1\n1BAD=x\nLAST=no newline")
    assert env == {"OK": "1", "LAST": "no newline"}


def test_later_assignments_win_and_files_override_environment():
    unit = parse_unit("[Service]\nEnvironment=A=from-unit B=kept\nEnvironmentFile=/etc/a.env\n"
                      "EnvironmentFile=-/etc/missing.env\n")
    files = {"/etc/a.env": "A=first\nA=second\n"}
    assert service_environment(unit, files.get) == {"A": "second", "B": "kept"}
    with pytest.raises(FileNotFoundError):
        service_environment(parse_unit("[Service]\nEnvironmentFile=/etc/missing.env\n"), files.get)


def test_expand_argv_unset_and_invalid_names_give_no_argument():
    assert expand_argv(["/bin/x", "$UNSET", "$", "$1X", "${1X}", "$OK"], {"OK": "ok"}) == ["/bin/x", "", "ok"]
