"""README.md, run as a new user runs it, so that the test fails when the README drifts.

Every fenced block of README.md is one of:
- ```sh: each command (a line, or the lines up to where bash sees a complete command)
  runs in one bash session, in order, and must exit 0;
- ```python: saved as app.py and run twice with .venv/bin/python, as the README says
  (twice: a second run must work too);
- ```swift file=PATH: byte for byte the file PATH, which the package builds (the
  Quickstart example); it is also run, twice, where a network namespace gives it the
  port 7400 it names;
- ```swift manifest: the lines an app adds to its Package.swift, put into an app's
  manifest beside a clone named authd, and resolved by SwiftPM (the package and
  product names must hold);
- marked ```LANG norun: shown only (make run, make test, Package.swift lines).
Anything else fails the test: a new block must be runnable or marked norun.

The commands run in a scratch directory laid out like a clone after `make run`:
.build/debug (the binaries under test), .venv, clients and var/authd.sqlite of an
authd started as `make run` starts it, so that the README's relative paths hold.
Only the environment is set: AUTHD_ADDRESS, the address of that authd (the README
says the commands use it), and the PATH and HOME of the test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from conftest import REPO_ROOT, AuthdServer

README = REPO_ROOT / "README.md"
RUN_LANGUAGES = {"sh", "python", "swift"}
FENCE = re.compile(r"^```(.*)$")


@dataclass
class Block:
    language: str
    options: Dict[str, str]
    text: str
    line: int  # of the first line inside the fence

    @property
    def norun(self) -> bool:
        return "norun" in self.options


def readme_blocks(text: str) -> List[Block]:
    blocks: List[Block] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        words = match.group(1).split()
        language = words[0] if words else ""
        options = dict((w.split("=", 1) + [""])[:2] for w in words[1:])
        end = i + 1
        while end < len(lines) and lines[end] != "```":
            end += 1
        assert end < len(lines), f"README.md:{i + 1}: a fence that never closes"
        blocks.append(Block(language, options, "\n".join(lines[i + 1:end]) + "\n", i + 2))
        i = end + 1
    return blocks


def shell_commands(block: Block) -> Iterator[tuple]:
    """(README line, command text) for each complete command of a sh block: lines are
    joined until `bash -n` accepts them (quotes, functions, continuations)."""
    pending: List[str] = []
    start = block.line
    for offset, line in enumerate(block.text.rstrip("\n").split("\n")):
        if not pending:
            start = block.line + offset
            if not line.strip() or line.lstrip().startswith("#"):
                continue
        pending.append(line)
        candidate = "\n".join(pending)
        if candidate.endswith("\\"):
            continue
        if subprocess.run(["bash", "-n", "-c", candidate], capture_output=True).returncode == 0:
            yield start, candidate
            pending = []
    assert not pending, f"README.md:{start}: an incomplete shell command: {pending}"


def test_every_block_is_run_or_marked_norun():
    blocks = readme_blocks(README.read_text())
    assert blocks, "README.md has no code blocks?"
    for block in blocks:
        where = f"README.md:{block.line - 1}"
        if block.norun:
            continue
        assert block.language in RUN_LANGUAGES, (
            f"{where}: a ```{block.language} block is neither run by this test nor marked norun")
        if block.language == "swift":
            assert "file" in block.options or "manifest" in block.options, (
                f"{where}: a swift block must be file=PATH (compiled), manifest (resolved) or norun")
    kinds = {(b.language, b.norun) for b in blocks}
    assert ("sh", False) in kinds and ("python", False) in kinds and ("swift", False) in kinds


def test_swift_snippet_is_the_example_the_package_builds(authd_binary: Path):
    swift = [b for b in readme_blocks(README.read_text()) if b.language == "swift" and "file" in b.options]
    assert swift
    package = (REPO_ROOT / "Package.swift").read_text()
    for block in swift:
        path = REPO_ROOT / block.options["file"]
        assert path.read_text() == block.text, (
            f"README.md:{block.line - 1}: the snippet differs from {block.options['file']}: copy one onto the other")
        target_dir = str(path.parent.relative_to(REPO_ROOT))
        assert f'path: "{target_dir}"' in package, f"{target_dir} is not a target of Package.swift"
    assert (authd_binary.parent / "authd-quickstart").is_file(), "the Quickstart example was not built"


def fake_clone(root: Path, authd_binary: Path) -> Path:
    """A directory that looks like the clone after `make run`, for the README's relative paths."""
    (root / ".build").mkdir(parents=True)
    (root / ".build" / "debug").symlink_to(authd_binary.parent)
    (root / ".venv").symlink_to(REPO_ROOT / ".venv")
    (root / "clients").symlink_to(REPO_ROOT / "clients")
    (root / "var").mkdir()
    return root


@pytest.fixture
def readme_authd(authd_binary: Path, tmp_path: Path) -> Iterator[AuthdServer]:
    """authd as `make run` starts it (tools/run.sh: `.build/debug/authd ... --database
    var/authd.sqlite`, relative to the clone), on a free port."""
    clone = fake_clone(tmp_path / "clone", authd_binary)
    server = AuthdServer(authd_binary, clone, database=clone / "var" / "authd.sqlite",
                         command=[".build/debug/authd", "--host", "127.0.0.1", "--port", "0",
                                  "--database", "var/authd.sqlite"]).start()
    yield server
    server.stop()


def readme_env(server: AuthdServer) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTHD_", "AUTH_MAILER_", "PYTHON"))}
    env["AUTHD_ADDRESS"] = f"127.0.0.1:{server.port}"
    return env


def test_first_start_hint_works_as_printed(readme_authd: AuthdServer):
    hints = [line.split("use it with: ", 1)[1] for line in readme_authd.stdout_lines if "use it with: " in line]
    assert hints == [".build/debug/authctl --key-file var/authd.sqlite.admin-key users list"], readme_authd.stdout_lines
    assert f"`{hints[0]}`" in README.read_text(), "the README quotes another first-start hint than authd prints"
    result = subprocess.run(["bash", "-c", hints[0]], cwd=readme_authd.workdir, env=readme_env(readme_authd),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result


def test_readme_runs_line_by_line(readme_authd: AuthdServer):
    clone = readme_authd.workdir
    script = ["set -o pipefail"]
    python_runs = 0
    for block in readme_blocks(README.read_text()):
        if block.norun or block.language == "swift":
            continue
        if block.language == "sh":
            for line, command in shell_commands(block):
                script += [
                    f"echo {quote(f'+ README.md:{line}: {command}')}",
                    command,
                    f"status=$?; if [ $status -ne 0 ]; then echo \"README.md:{line} exited $status\" >&2; exit 97; fi",
                ]
        elif block.language == "python":
            python_runs += 1
            app = f"app{python_runs}.py" if python_runs > 1 else "app.py"
            (clone / app).write_text(block.text)
            for attempt in ("first", "second"):
                script += [
                    f"echo {quote(f'+ README.md:{block.line}: .venv/bin/python {app} ({attempt} run)')}",
                    f".venv/bin/python {app}",
                    f"status=$?; if [ $status -ne 0 ]; then echo \"README.md:{block.line} ({attempt} run) exited $status\" >&2; exit 97; fi",
                ]
    result = subprocess.run(["bash", "-c", "\n".join(script)], cwd=clone, env=readme_env(readme_authd),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{result.stderr}\n--- output ---\n{result.stdout[-6000:]}\n{readme_authd.output_tail()}"
    out = result.stdout
    assert "SERVING" in out                                      # the health check
    assert out.count("grace@example.com") >= 2                   # the Python example, both runs
    assert "UNAUTHENTICATED" in out
    assert re.search(r"^\d+\.\d+\.\d+ \(commit ", out, re.MULTILINE)  # authctl --version


def quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


# ---- The Package.swift lines, resolved ---------------------------------------------------


def app_manifest(lines: str) -> str:
    body = "".join(f"    {line}\n" if line else "\n" for line in lines.rstrip("\n").split("\n"))
    return ("// swift-tools-version: 6.1\nimport PackageDescription\n\nlet package = Package(\n"
            f'    name: "MyApp",\n    platforms: [.macOS(.v15)],\n{body})\n')


def resolve_app(root: Path, clone_name: str, lines: str) -> subprocess.CompletedProcess:
    """An app in root/app whose manifest has `lines`, beside root/<clone_name> (this
    repository), resolved by `swift package show-dependencies`. The scratch directory is
    kept under .build, so only the first run copies the dependencies (from SwiftPM's cache)."""
    (root / clone_name).symlink_to(REPO_ROOT)
    app = root / "app"
    (app / "Sources" / "MyApp").mkdir(parents=True)
    (app / "Sources" / "MyApp" / "main.swift").write_text("import AuthClient\n")
    (app / "Package.swift").write_text(app_manifest(lines))
    scratch = REPO_ROOT / ".build" / f"readme-app-{clone_name}"
    return subprocess.run(["swift", "package", "--scratch-path", str(scratch), "show-dependencies"],
                          cwd=app, capture_output=True, text=True, timeout=900)


def test_package_swift_lines_resolve(tmp_path: Path):
    [block] = [b for b in readme_blocks(README.read_text()) if b.language == "swift" and "manifest" in b.options]
    assert '.package(path: "../authd")' in block.text and 'package: "authd"' in block.text
    result = resolve_app(tmp_path, "authd", block.text)
    assert result.returncode == 0, result
    assert "authd<" in result.stdout, result.stdout


def test_package_identity_is_the_folder_name(tmp_path: Path):
    """The rule the README states: a clone in ../authd-main is package "authd-main"."""
    [block] = [b for b in readme_blocks(README.read_text()) if b.language == "swift" and "manifest" in b.options]
    renamed = block.text.replace('"../authd"', '"../authd-main"')
    refused = resolve_app(tmp_path, "authd-main", renamed)
    assert refused.returncode != 0 and "unknown package 'authd'" in refused.stderr, refused
    (tmp_path / "app" / "Package.swift").write_text(app_manifest(renamed.replace('package: "authd"', 'package: "authd-main"')))
    scratch = REPO_ROOT / ".build" / "readme-app-authd-main"
    accepted = subprocess.run(["swift", "package", "--scratch-path", str(scratch), "show-dependencies"],
                              cwd=tmp_path / "app", capture_output=True, text=True, timeout=900)
    assert accepted.returncode == 0, accepted


# ---- The Swift example, run ------------------------------------------------------------


def network_namespace_holder() -> subprocess.Popen:
    """A process in a new network namespace with loopback up, where port 7400 is free
    whatever this machine runs; None when namespaces cannot be made here."""
    if shutil.which("unshare") is None or shutil.which("nsenter") is None or shutil.which("ip") is None:
        return None
    holder = subprocess.Popen(["unshare", "--net", "sh", "-c", "ip link set lo up && echo up && exec cat"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert holder.stdout is not None
    if holder.stdout.readline() != b"up\n":
        holder.kill()
        holder.wait()
        return None
    return holder


def test_swift_example_runs_twice(authd_binary: Path, tmp_path: Path):
    """The README's Swift snippet names 127.0.0.1:7400 as an app would. It runs against
    an authd of its own on that port inside a private network namespace; the second run
    meets ALREADY_EXISTS and logs in instead."""
    example = authd_binary.parent / "authd-quickstart"
    assert example.is_file(), "the Quickstart example was not built"
    holder = network_namespace_holder()
    if holder is None:
        pytest.skip("needs a network namespace (unshare --net, nsenter, ip; root or user namespaces) so that the "
                    "example can have port 7400: not available here, the snippet was compiled but not run")
    enter = ["nsenter", f"--net=/proc/{holder.pid}/ns/net"]
    server = AuthdServer(authd_binary, tmp_path, command=[
        *enter, str(authd_binary), "--host", "127.0.0.1", "--port", "7400",
        "--database", str(tmp_path / "authd.sqlite"), "--scrypt-log-n", "10"])
    try:
        server.start()
        assert server.port == 7400
        for attempt in ("first", "second"):
            result = subprocess.run([*enter, str(example)], capture_output=True, text=True, timeout=120)
            assert result.returncode == 0, (attempt, result, server.output_tail())
            assert result.stdout.startswith("ada@example.com "), (attempt, result.stdout)
    finally:
        server.stop()
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=10)
