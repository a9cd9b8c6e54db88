"""tools/dist.sh's packaging and tools/dist-check.sh's toolchain check, on the debug build.

`make dist` (a release build with the Swift runtime linked in) is too slow for `make
test`, and `make dist-check` checks its tarball. What can be checked cheaply is checked
here with the binaries of this build: the tarball's layout and modes, that the same
binaries give the same bytes, and that dist-check refuses these binaries, which load the
Swift runtime from the toolchain directory: the failure `make dist` exists to fix.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import tarfile
from pathlib import Path

import pytest

from conftest import REPO_ROOT

DIST = REPO_ROOT / "tools" / "dist.sh"
DIST_CHECK = REPO_ROOT / "tools" / "dist-check.sh"
BINARIES = ["authd", "authctl", "auth-mailer", "authbench"]


def expected_name() -> str:
    version = (REPO_ROOT / "VERSION").read_text().strip()
    return f"authd-{version}-linux-{platform.machine()}"


@pytest.fixture(scope="module")
def packaged(authd_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tarball of this build's binaries, as `make dist` packages its own."""
    bin_dir = authd_binary.parent
    missing = [b for b in BINARIES if not (bin_dir / b).is_file()]
    if missing:
        pytest.fail(f"{bin_dir} lacks {missing}: build every product (swift build)", pytrace=False)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([str(DIST), "--package", str(bin_dir), str(out)], check=True, capture_output=True,
                   env={**os.environ, "GZIP_LEVEL": "1"}, timeout=600)
    return out / f"{expected_name()}.tar.gz"


def test_the_tarball_is_named_after_the_version_and_the_machine():
    name = subprocess.run([str(DIST), "--name"], check=True, capture_output=True, text=True).stdout.strip()
    assert name == f"dist/{expected_name()}.tar.gz"


def test_the_tarball_layout(packaged: Path):
    with tarfile.open(packaged) as tar:
        members = {m.name: m for m in tar.getmembers()}
        top = expected_name()
        assert {name.split("/")[0] for name in members} == {top}
        files = {name[len(top) + 1:]: m for name, m in members.items() if m.isfile()}
        deploy = sorted(p.name for p in (REPO_ROOT / "deploy").iterdir())
        expected = {f"bin/{b}" for b in BINARIES} \
            | {("systemd/" if d.endswith(".service") else "etc/") + d for d in deploy} \
            | {"docs/operations.md", "docs/configuration.md", "docs/authctl.md", "docs/mailer.md", "docs/protocol.md",
               "README.md", "VERSION", "BUILD-INFO"}
        assert set(files) == expected
        for path, member in files.items():
            assert (member.uid, member.gid) == (0, 0), path
            assert member.mode == (0o755 if path.startswith("bin/") else 0o644), (path, oct(member.mode))
        assert tar.extractfile(members[f"{top}/docs/operations.md"]).read() == \
            (REPO_ROOT / "docs" / "operations.md").read_bytes()
        info = tar.extractfile(members[f"{top}/BUILD-INFO"]).read().decode()
        assert f"version: {(REPO_ROOT / 'VERSION').read_text().strip()}" in info
        # The libraries' Debian packages, the apt line of docs/operations.md.
        assert "libsqlite3-0" in info and "libprotobuf-c1" in info and "libssl3" in info, info
    checksum = (packaged.parent / f"{packaged.name}.sha256").read_text().split()
    assert checksum == [hashlib.sha256(packaged.read_bytes()).hexdigest(), packaged.name]


def test_the_same_binaries_give_the_same_tarball(authd_binary: Path, packaged: Path, tmp_path: Path):
    subprocess.run([str(DIST), "--package", str(authd_binary.parent), str(tmp_path)], check=True,
                   capture_output=True, env={**os.environ, "GZIP_LEVEL": "1"}, timeout=600)
    assert (tmp_path / packaged.name).read_bytes() == packaged.read_bytes()


def test_dist_check_refuses_binaries_that_need_the_toolchain(packaged: Path):
    """The debug build finds the Swift runtime through a RUNPATH into the toolchain: the
    check must say so before it runs anything."""
    result = subprocess.run([str(DIST_CHECK), str(packaged)], capture_output=True, text=True, timeout=600)
    assert result.returncode != 0, result
    assert "loads libraries from the toolchain" in result.stderr, result.stderr
    assert "libswiftCore.so" in result.stderr, result.stderr
