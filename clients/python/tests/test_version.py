"""`--version` of every executable: the version of VERSION and the git commit the
binary was built from, stamped at build time (Plugins/AuthdVersionPlugin runs
tools/version-info.sh before every build).

The binaries are those beside $AUTHD_BIN (default <repo>/.build/debug). A binary
built before the last commit names the older commit: rebuild first (make test does).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Optional

import pytest

from conftest import REPO_ROOT

EXECUTABLES = ["authd", "authctl", "auth-mailer", "authbench"]
VERSION_LINE = re.compile(r"(?P<version>\d+\.\d+\.\d+\S*) \(commit (?P<commit>[0-9a-f]{7,40}(-dirty)?|unknown)\)")
SCRIPT = REPO_ROOT / "tools" / "version-info.sh"


def git(*args: str, cwd: Path) -> Optional[str]:
    if shutil.which("git") is None:
        return None
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


def expected_version() -> str:
    return (REPO_ROOT / "VERSION").read_text().strip()


@pytest.mark.parametrize("name", EXECUTABLES)
def test_version_names_the_version_and_the_commit(authd_binary: Path, name: str):
    binary = authd_binary.parent / name
    assert binary.is_file(), f"no {name} beside {authd_binary}: build it (swift build)"
    result = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result
    match = VERSION_LINE.fullmatch(result.stdout.strip())
    assert match, f"{name} --version printed {result.stdout!r}"
    assert match["version"] == expected_version()
    head = git("rev-parse", "--short", "HEAD", cwd=REPO_ROOT)
    top = git("rev-parse", "--show-toplevel", cwd=REPO_ROOT)
    if head is not None and top is not None and Path(top).resolve() == REPO_ROOT.resolve():
        assert match["commit"].startswith(head), (
            f"{name} was built from {match['commit']}, HEAD is {head}: rebuild (swift build)")
    else:
        assert match["commit"] == "unknown"


def stamp(package: Path, out: Path) -> str:
    subprocess.run(["/bin/sh", str(SCRIPT), str(package), str(out)], check=True, timeout=60)
    return (out / "AuthdBuildInfo.swift").read_text()


def copy_package(destination: Path) -> Path:
    destination.mkdir(parents=True)
    shutil.copy(REPO_ROOT / "VERSION", destination / "VERSION")
    return destination


def test_stamp_outside_git_says_unknown(tmp_path: Path):
    """A source tarball has no .git: the commit is "unknown", the version still VERSION's."""
    package = copy_package(tmp_path / "authd-0.1.0")
    text = stamp(package, tmp_path / "out")
    assert f'let buildVersion = "{expected_version()}"' in text
    assert 'let buildCommit = "unknown"' in text


def test_stamp_in_git_names_head_and_a_dirty_tree(tmp_path: Path):
    package = copy_package(tmp_path / "clone")
    env_git = ["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]
    assert git("init", "-q", cwd=package) is not None
    assert git("add", "VERSION", cwd=package) is not None
    assert git(*env_git, "commit", "-q", "-m", "v", cwd=package) is not None
    head = git("rev-parse", "--short=12", "HEAD", cwd=package)
    out = tmp_path / "out"
    assert f'let buildCommit = "{head}"' in stamp(package, out)
    before = (out / "AuthdBuildInfo.swift").stat().st_mtime_ns
    stamp(package, out)
    assert (out / "AuthdBuildInfo.swift").stat().st_mtime_ns == before, "an unchanged stamp must not be rewritten"

    (package / "VERSION").write_text("9.9.9\n")
    text = stamp(package, out)
    assert f'let buildCommit = "{head}-dirty"' in text and 'let buildVersion = "9.9.9"' in text

    # A copy inside someone else's repository is not that repository's commit.
    nested = copy_package(package / "vendor" / "authd")
    assert 'let buildCommit = "unknown"' in stamp(nested, tmp_path / "nested-out")


def test_stamp_is_valid_swift(tmp_path: Path):
    out = tmp_path / "out"
    stamp(copy_package(tmp_path / "pkg"), out)
    result = subprocess.run(["swiftc", "-parse", str(out / "AuthdBuildInfo.swift")], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
