"""What systemd makes of a service's ExecStart=: the command line it executes.

A port of the parts of systemd (v252 on Debian 12, unchanged in later versions
except where noted) that turn a unit file and its EnvironmentFile= into argv,
so that a test can start the real binary exactly as systemd would:

- the unit file (systemd.syntax(7); src/shared/conf-parser.c): sections,
  `Key=value` lines, comments (`#`, `;`), a trailing backslash joining the next
  line with a space, comment lines inside such a continuation skipped;
- Environment= (systemd.exec(5)): words unquoted with C escapes, each an
  assignment;
- EnvironmentFile= (systemd.exec(5); src/basic/env-file.c, the state machine
  of parse_env_file_internal): shell-like quoting, later assignments win;
- ExecStart= (systemd.service(5) "Command lines"; config_parse_exec in
  src/core/load-fragment.c): the prefixes `-@:+!`, words split at whitespace
  and unquoted with the escapes of systemd.syntax(7) "Quoting", a lone `;`
  between commands, `\\;` a literal `;`, `%` specifiers per word;
- at exec time (replace_env_argv in src/basic/env-util.c): a word that is
  exactly `$NAME` becomes the variable's value split at whitespace (quotes
  respected and removed), zero or more arguments; `${NAME}` anywhere in a word
  is replaced by the exact value, so the word stays one argument; `$$` is `$`;
  an unset variable is empty; a bare `$NAME` inside a longer word is left as
  it is. The executable path itself is not expanded (argv[0] is).

Only what these units can meet is implemented; anything else (an unknown
specifier, an 8-bit `\\x` escape) raises instead of guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

WHITESPACE = " \t\n\r"
COMMENTS = "#;"
VALID_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Characters that a backslash escapes inside double quotes of an EnvironmentFile.
SHELL_NEED_ESCAPE = '"\\`$'


class UnitSyntaxError(ValueError):
    pass


# ---- Unit files ----------------------------------------------------------------


def parse_unit(text: str) -> Dict[str, List[Tuple[str, str]]]:
    """Sections of a unit file, each a list of (key, value) in file order."""
    sections: Dict[str, List[Tuple[str, str]]] = {}
    section: Optional[str] = None
    continuation: Optional[str] = None
    for raw in text.split("\n"):
        if raw.lstrip(WHITESPACE)[:1] in tuple(COMMENTS):
            continue  # a comment, also inside a continuation
        line = raw if continuation is None else continuation + raw
        if _ends_in_unescaped_backslash(line):
            continuation = line[:-1] + " "
            continue
        continuation = None
        line = line.strip(WHITESPACE)
        if not line:
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise UnitSyntaxError(f"bad section header: {line!r}")
            section = line[1:-1]
            sections.setdefault(section, [])
            continue
        if section is None or "=" not in line:
            continue  # systemd warns and ignores the line
        key, value = line.split("=", 1)
        sections[section].append((key.strip(WHITESPACE), value.strip(WHITESPACE)))
    if continuation is not None:
        key_line = continuation.strip(WHITESPACE)
        if section is not None and "=" in key_line:
            key, value = key_line.split("=", 1)
            sections[section].append((key.strip(WHITESPACE), value.strip(WHITESPACE)))
    return sections


def _ends_in_unescaped_backslash(line: str) -> bool:
    escaped = False
    for character in line:
        escaped = not escaped if character == "\\" else False
    return escaped


def unit_values(unit: Mapping[str, List[Tuple[str, str]]], section: str, key: str) -> List[str]:
    return [v for k, v in unit.get(section, []) if k == key]


# ---- Words: extract_first_word(EXTRACT_UNQUOTE | EXTRACT_CUNESCAPE) ---------------


def _cunescape_one(text: str, index: int) -> Optional[Tuple[str, int]]:
    """The escape after a backslash at text[index-1]: (its character, characters used),
    or None when it is not one of systemd.syntax(7)'s Table 1 (systemd then keeps the
    backslash and the character as they are, with a warning)."""
    simple = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
              "\\": "\\", '"': '"', "'": "'", "s": " "}
    hex_digits = "0123456789abcdefABCDEF"
    c = text[index] if index < len(text) else ""
    if c in simple and c:
        return simple[c], 1
    if c == "x":
        digits = text[index + 1:index + 3]
        if len(digits) != 2 or not all(d in hex_digits for d in digits) or int(digits, 16) == 0:
            return None
        if int(digits, 16) >= 0x80:
            raise NotImplementedError("8-bit \\x escapes make bytes, not text")
        return chr(int(digits, 16)), 3
    if c in ("u", "U"):
        width = 4 if c == "u" else 8
        digits = text[index + 1:index + 1 + width]
        if len(digits) != width or not all(d in hex_digits for d in digits):
            return None
        value = int(digits, 16)
        if value == 0 or value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
            return None
        return chr(value), 1 + width
    if c and c in "01234567":
        digits = text[index:index + 3]
        if len(digits) != 3 or not all(d in "01234567" for d in digits) or int(digits, 8) == 0:
            return None
        if int(digits, 8) >= 0x80:
            raise NotImplementedError("8-bit octal escapes make bytes, not text")
        return chr(int(digits, 8)), 3
    return None


def extract_first_word(text: str, start: int, *, cunescape: bool, relax: bool) -> Tuple[Optional[str], int]:
    """The next word of text from start, quotes removed, and where parsing stopped
    (len(text) at the end). None when only whitespace is left. `cunescape`: C escapes
    (ExecStart=, Environment=); without it a backslash just keeps the next character
    (the split of a $NAME value). `relax`: an unbalanced quote or a trailing backslash
    ends the word instead of being an error."""
    i = start
    while i < len(text) and text[i] in WHITESPACE:
        i += 1
    if i >= len(text):
        return None, len(text)
    word: List[str] = []
    quote = ""
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 >= len(text):
                if relax:
                    return "".join(word), len(text)
                raise UnitSyntaxError(f"trailing backslash in {text!r}")
            if cunescape:
                escape = _cunescape_one(text, i + 1)
                if escape is None:  # kept verbatim (extract_first_word_and_warn)
                    word += ["\\", text[i + 1]]
                    i += 2
                else:
                    word.append(escape[0])
                    i += 1 + escape[1]
            else:
                word.append(text[i + 1])
                i += 2
            continue
        if quote:
            if c == quote:
                quote = ""
            else:
                word.append(c)
            i += 1
            continue
        if c in "'\"":
            quote = c
            i += 1
            continue
        if c in WHITESPACE:
            while i < len(text) and text[i] in WHITESPACE:
                i += 1
            return "".join(word), i
        word.append(c)
        i += 1
    if quote and not relax:
        raise UnitSyntaxError(f"unbalanced quote in {text!r}")
    return "".join(word), len(text)


def split_words(text: str, *, cunescape: bool, relax: bool) -> List[str]:
    words: List[str] = []
    position = 0
    while True:
        word, position = extract_first_word(text, position, cunescape=cunescape, relax=relax)
        if word is None:
            return words
        words.append(word)


# ---- Specifiers (systemd.unit(5)) -------------------------------------------------


def resolve_specifiers(word: str, specifiers: Mapping[str, str]) -> str:
    """`%%` is `%`; `%X` is specifiers["X"]; an unknown one raises."""
    out: List[str] = []
    i = 0
    while i < len(word):
        if word[i] != "%":
            out.append(word[i])
            i += 1
            continue
        if i + 1 >= len(word):
            raise UnitSyntaxError(f"lone % at the end of {word!r}")
        letter = word[i + 1]
        if letter == "%":
            out.append("%")
        elif letter in specifiers:
            out.append(specifiers[letter])
        else:
            raise UnitSyntaxError(f"specifier %{letter} in {word!r} is not known to this helper")
        i += 2
    return "".join(out)


# ---- Environment= and EnvironmentFile= --------------------------------------------


def parse_environment_assignments(value: str, specifiers: Mapping[str, str] = {}) -> Dict[str, str]:
    """An Environment= value: words (quotes, C escapes), each NAME=VALUE."""
    result: Dict[str, str] = {}
    for word in split_words(value, cunescape=True, relax=False):
        word = resolve_specifiers(word, specifiers)
        name, equals, rest = word.partition("=")
        if not equals or not VALID_NAME.match(name):
            continue  # systemd logs "Invalid environment assignment, ignoring"
        result[name] = rest
    return result


def parse_environment_file(text: str) -> Dict[str, str]:
    """An EnvironmentFile= file, by the state machine of systemd's env-file.c.
    Assignments whose name is not a valid variable name are dropped, as exec does."""
    assignments: List[Tuple[str, str]] = []
    state = "PRE_KEY"
    key: List[str] = []
    value: List[str] = []
    last_key_whitespace: Optional[int] = None
    last_value_whitespace: Optional[int] = None

    def push() -> None:
        k = "".join(key if last_key_whitespace is None else key[:last_key_whitespace])
        v = value
        if state == "VALUE" and last_value_whitespace is not None:
            v = value[:last_value_whitespace]
        assignments.append((k, "".join(v)))

    for c in text:
        if state == "PRE_KEY":
            if c in COMMENTS:
                state = "COMMENT"
            elif c not in WHITESPACE:
                state = "KEY"
                last_key_whitespace = None
                key = [c]
        elif state == "KEY":
            if c == "\n":
                state = "PRE_KEY"
                key = []
            elif c == "=":
                state = "PRE_VALUE"
                last_value_whitespace = None
                value = []
            else:
                if c not in WHITESPACE:
                    last_key_whitespace = None
                elif last_key_whitespace is None:
                    last_key_whitespace = len(key)
                key.append(c)
        elif state == "PRE_VALUE":
            if c == "\n":
                push()
                state, key, value = "PRE_KEY", [], []
            elif c == "'":
                state = "SINGLE_QUOTE_VALUE"
            elif c == '"':
                state = "DOUBLE_QUOTE_VALUE"
            elif c == "\\":
                state = "VALUE_ESCAPE"
            elif c not in WHITESPACE:
                state = "VALUE"
                value.append(c)
        elif state == "VALUE":
            if c == "\n":
                push()
                state, key, value = "PRE_KEY", [], []
            elif c == "\\":
                state = "VALUE_ESCAPE"
                last_value_whitespace = None
            else:
                if c not in WHITESPACE:
                    last_value_whitespace = None
                elif last_value_whitespace is None:
                    last_value_whitespace = len(value)
                value.append(c)
        elif state == "VALUE_ESCAPE":
            state = "VALUE"
            if c != "\n":  # an escaped newline is a continuation: eaten
                value.append(c)
        elif state == "SINGLE_QUOTE_VALUE":
            if c == "'":
                state = "PRE_VALUE"
            else:
                value.append(c)
        elif state == "DOUBLE_QUOTE_VALUE":
            if c == '"':
                state = "PRE_VALUE"
            elif c == "\\":
                state = "DOUBLE_QUOTE_VALUE_ESCAPE"
            else:
                value.append(c)
        elif state == "DOUBLE_QUOTE_VALUE_ESCAPE":
            state = "DOUBLE_QUOTE_VALUE"
            if c in SHELL_NEED_ESCAPE:
                value.append(c)
            elif c != "\n":
                value += ["\\", c]
        elif state == "COMMENT":
            if c == "\\":
                state = "COMMENT_ESCAPE"
            elif c == "\n":
                state = "PRE_KEY"
        elif state == "COMMENT_ESCAPE":
            # Since v254 a comment ends at its line even after a backslash (v252 went on
            # into the next line); no file here has a comment ending in a backslash.
            state = "PRE_KEY" if c == "\n" else "COMMENT"
    if state in ("PRE_VALUE", "VALUE", "VALUE_ESCAPE", "SINGLE_QUOTE_VALUE",
                 "DOUBLE_QUOTE_VALUE", "DOUBLE_QUOTE_VALUE_ESCAPE"):
        push()

    result: Dict[str, str] = {}
    for name, v in assignments:
        if VALID_NAME.match(name):
            result[name] = v
    return result


# ---- ExecStart= -------------------------------------------------------------------


@dataclass
class ExecCommand:
    """One command of an Exec*= line, as systemd stores it before running it."""
    path: str
    argv: List[str]
    ignore_failure: bool = False      # "-"
    no_env_expand: bool = False       # ":"
    privileged: str = ""              # "+", "!" or "!!"
    flags: List[str] = field(default_factory=list)


def parse_exec(value: str, specifiers: Mapping[str, str] = {}) -> List[ExecCommand]:
    """The commands of an ExecStart= value (systemd.service(5) "Command lines")."""
    commands: List[ExecCommand] = []
    text = value.lstrip(WHITESPACE)
    position = 0
    while True:
        first, position = extract_first_word(text, position, cunescape=True, relax=False)
        if first is None:
            return commands
        command = ExecCommand(path="", argv=[])
        separate_argv0 = False
        f = first
        while f:
            if f[0] == "-" and not command.ignore_failure:
                command.ignore_failure = True
            elif f[0] == "@" and not separate_argv0:
                separate_argv0 = True
            elif f[0] == ":" and not command.no_env_expand:
                command.no_env_expand = True
            elif f[0] == "+" and not command.privileged:
                command.privileged = "+"
            elif f[0] == "!" and command.privileged in ("", "!"):
                command.privileged += "!"
            else:
                break
            f = f[1:]
        command.path = resolve_specifiers(f, specifiers)
        if not command.path:
            raise UnitSyntaxError(f"empty executable path in {value!r}")
        if not command.path.startswith("/"):
            raise UnitSyntaxError(f"this helper needs an absolute executable path: {command.path!r}")
        if not separate_argv0:
            command.argv.append(command.path)
        while position < len(text):
            rest = text[position:]
            if rest[0] == ";" and (len(rest) == 1 or rest[1] in WHITESPACE):
                position += 1
                while position < len(text) and text[position] in WHITESPACE:
                    position += 1
                break
            if rest.startswith("\\;") and (len(rest) == 2 or rest[2] in WHITESPACE):
                command.argv.append(";")
                position += 2
                while position < len(text) and text[position] in WHITESPACE:
                    position += 1
                continue
            word, position = extract_first_word(text, position, cunescape=True, relax=False)
            if word is None:
                break
            command.argv.append(resolve_specifiers(word, specifiers))
        if not command.argv:
            raise UnitSyntaxError(f"no argv[0] in {value!r}")
        commands.append(command)


def _replace_env(word: str, env: Mapping[str, str]) -> str:
    """`${NAME}` replaced by its exact value, `$$` by `$`; everything else kept
    (replace_env_full with no flags: `${NAME:-x}` is left as it is)."""
    out: List[str] = []
    i = 0
    while i < len(word):
        if word[i] != "$" or i + 1 >= len(word):
            out.append(word[i])
            i += 1
            continue
        nxt = word[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "{":
            end = i + 2
            while end < len(word) and word[end] not in "}:":
                end += 1
            if end < len(word) and word[end] == "}":
                name = word[i + 2:end]
                out.append(env.get(name, "") if VALID_NAME.match(name) else "")
                i = end + 1
            else:  # unterminated, or ":" (unsupported here): literal
                out.append(word[i:end])
                i = end
        else:
            out.append("$")
            i += 1
    return "".join(out)


def expand_argv(argv: Sequence[str], env: Mapping[str, str]) -> List[str]:
    """argv as executed (replace_env_argv): a word that is `$NAME` becomes the value
    split at whitespace, quotes respected and removed (zero or more words; an unset or
    invalid name gives none); in any other word `${NAME}` and `$$` are substituted."""
    result: List[str] = []
    for word in argv:
        if word.startswith("$") and word[1:2] not in ("{", "$"):
            name = word[1:]
            if VALID_NAME.match(name) and name in env:
                result += split_words(env[name], cunescape=False, relax=True)
            continue
        result.append(_replace_env(word, env))
    return result


def command_line(command: ExecCommand, env: Mapping[str, str]) -> Tuple[str, List[str]]:
    """(the executable, argv) that systemd executes for command with env."""
    if command.no_env_expand:
        return command.path, list(command.argv)
    return command.path, expand_argv(command.argv, env)


def service_environment(unit: Mapping[str, List[Tuple[str, str]]], read_file, specifiers: Mapping[str, str] = {}) -> Dict[str, str]:
    """Environment= then every EnvironmentFile= (which win), in order. read_file(path)
    returns a file's text, or None when it is missing (an error unless the path has the
    "-" prefix)."""
    env: Dict[str, str] = {}
    for value in unit_values(unit, "Service", "Environment"):
        env.update(parse_environment_assignments(value, specifiers))
    for value in unit_values(unit, "Service", "EnvironmentFile"):
        optional = value.startswith("-")
        path = resolve_specifiers(value[1:] if optional else value, specifiers)
        text = read_file(path)
        if text is None:
            if optional:
                continue
            raise FileNotFoundError(path)
        env.update(parse_environment_file(text))
    return env
