"""Throwaway databases on the test PostgreSQL server, through psql.

The server's superuser URL is $AUTHD_TEST_POSTGRES_URL (`make test-python` starts
the server with tools/postgres-test-server.sh and sets it). No Python driver is
used: every statement is one `psql -X -q -v ON_ERROR_STOP=1 -At -d URL -c SQL`.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import uuid
from typing import List, Optional
from urllib.parse import urlsplit, urlunsplit

import pytest

URL_VARIABLE = "AUTHD_TEST_POSTGRES_URL"


def superuser_url() -> str:
    """The server's URL; a missing variable fails the test (the server is part of the suite)."""
    url = os.environ.get(URL_VARIABLE, "").strip()
    if not url:
        pytest.fail(f"{URL_VARIABLE} is not set: start the test PostgreSQL server with "
                    f"`tools/postgres-test-server.sh start` and export its URL (make test-python does both)",
                    pytrace=False)
    return url


def psql_path() -> str:
    """The newest /usr/lib/postgresql/*/bin/psql, else psql on the PATH."""
    def version(path: str) -> int:
        match = re.search(r"/postgresql/(\d+)/", path)
        return int(match.group(1)) if match else 0
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"), key=version)
    if candidates:
        return candidates[-1]
    found = shutil.which("psql")
    if found is None:
        pytest.fail("no psql: install postgresql-client (tools/postgres-test-server.sh start does)", pytrace=False)
    return found


def with_database(url: str, name: str, query: str = "") -> str:
    """`url` with its path replaced by /name and its query by `query`."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, query, ""))


def with_port(url: str, port: int) -> str:
    """`url` with its port replaced (host and user kept)."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit(":", 1)[0] if parts.port is not None else parts.netloc
    return urlunsplit((parts.scheme, f"{netloc}:{port}", parts.path, parts.query, parts.fragment))


def psql(url: str, sql: str, timeout: float = 120) -> str:
    """Runs `sql` on the database of `url`; returns psql's unaligned, tuples-only output."""
    result = subprocess.run([psql_path(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-d", url, "-c", sql],
                            capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"psql failed ({result.returncode}) on {url}: {sql}\n{result.stderr}")
    return result.stdout.rstrip("\n")


def rows(url: str, sql: str) -> List[List[str]]:
    """The rows of a query, each a list of its columns as text."""
    out = psql(url, sql)
    return [line.split("|") for line in out.splitlines()] if out else []


class Database:
    """One fresh database on the test server, dropped (WITH (FORCE)) by `drop`."""

    def __init__(self, server_url: str, name: Optional[str] = None):
        self.server_url = server_url
        self.name = name or f"authd_py_{uuid.uuid4().hex[:16]}"
        psql(server_url, f'CREATE DATABASE "{self.name}"')
        self.dropped = False

    @property
    def url(self) -> str:
        """For psql."""
        return with_database(self.server_url, self.name)

    def store_url(self, port: Optional[int] = None) -> str:
        """For `authd --store`: plaintext (the test server has no TLS), optionally via another port."""
        url = with_database(self.server_url, self.name, "sslmode=disable")
        return with_port(url, port) if port is not None else url

    def sql(self, sql: str) -> str:
        return psql(self.url, sql)

    def rows(self, sql: str) -> List[List[str]]:
        return rows(self.url, sql)

    def drop(self) -> None:
        if not self.dropped:
            psql(self.server_url, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            self.dropped = True

    def __repr__(self) -> str:
        return f"<database {self.name}>"


def port_of(url: str) -> int:
    return urlsplit(url).port or 5432


def host_of(url: str) -> str:
    return urlsplit(url).hostname or "127.0.0.1"

