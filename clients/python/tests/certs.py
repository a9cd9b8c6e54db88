"""Certificate authorities and certificates for tests, made with the openssl command
(the venv has no `cryptography`). Valid two days, for 127.0.0.1 and localhost."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


def openssl(*arguments: str) -> None:
    result = subprocess.run(["openssl", *arguments], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"openssl {' '.join(arguments)} failed:\n{result.stderr}"


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path


class CertificateAuthority:
    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.name = name
        self.cert = directory / f"{name}-ca.pem"
        self.key = directory / f"{name}-ca.key"
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", str(self.key), "-out", str(self.cert), "-days", "2", "-subj", f"/CN={name} test CA",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def issue(self, common_name: str, serial: int, purpose: str = "serverAuth") -> Issued:
        """A certificate named `common_name` with `serial`; purpose serverAuth or clientAuth."""
        base = self.directory / f"{self.name}-{common_name}-{serial}"
        issued = Issued(base.with_suffix(".pem"), base.with_suffix(".key"))
        csr, ext = base.with_suffix(".csr"), base.with_suffix(".ext")
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", str(issued.key), "-out", str(csr), "-subj", f"/CN={common_name}")
        ext.write_text(f"subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage={purpose}\n")
        openssl("x509", "-req", "-in", str(csr), "-CA", str(self.cert), "-CAkey", str(self.key),
                "-set_serial", str(serial), "-days", "2", "-out", str(issued.cert), "-extfile", str(ext))
        return issued
