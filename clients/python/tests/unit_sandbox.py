"""Runs a command under the seccomp filters of a systemd unit, as systemd would.

    python unit_sandbox.py UNIT_FILE [--user NAME] -- COMMAND [ARG...]

systemd (v252, src/shared/seccomp-util.c) turns four of a unit's settings into seccomp
filters that the kernel applies to every system call of the service, and that kill the
service (or fail the call) when it steps outside them. This applies the same four with
libseccomp (which systemd itself uses), then execs COMMAND:

- SystemCallFilter= (every line, in order: a list allows, a `~` list removes; groups
  expanded by `systemd-analyze syscall-filter`): any other system call kills the
  process (SCMP_ACT_KILL_PROCESS, SIGSYS), as in systemd;
- SystemCallArchitectures=native: the filter is for the native ABI only, so a call
  through another ABI is killed too;
- MemoryDenyWriteExecute=yes: mmap asking for write and execute at once, mprotect or
  pkey_mprotect asking for execute, shmat with SHM_EXEC fail with EPERM;
- RestrictAddressFamilies= (an allow list): socket() of any other family fails with
  EAFNOSUPPORT.

With --user (when run as root) it first becomes that user with no supplementary groups,
as DynamicUser= runs a service as an unprivileged user of its own. What systemd does with
mount namespaces (ProtectSystem=, PrivateTmp=, PrivateDevices=, ProtectProc=, ...) is not
reproduced here.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import pwd
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterable, List, Set

sys.path.insert(0, str(Path(__file__).resolve().parent))
from systemd_units import parse_unit, unit_values  # noqa: E402

SCMP_ACT_KILL_PROCESS = 0x80000000
SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_GE = 5
SCMP_CMP_EQ = 4
SCMP_CMP_MASKED_EQ = 7
PR_SET_NO_NEW_PRIVS = 38
PROT_WRITE, PROT_EXEC = 0x2, 0x4
SHM_EXEC = 0o100000
EPERM, EAFNOSUPPORT = 1, 97
AF_MAX = 46  # Linux 6.x; families at or above it are refused like the unknown ones
FAMILIES = {"AF_UNIX": 1, "AF_LOCAL": 1, "AF_INET": 2, "AF_INET6": 10, "AF_NETLINK": 16, "AF_PACKET": 17}


def scmp_act_errno(errno: int) -> int:
    return 0x00050000 | (errno & 0xFFFF)


class ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


def expand(names: Iterable[str]) -> Set[str]:
    """System call names of a SystemCallFilter= list, groups expanded recursively."""
    result: Set[str] = set()
    for name in names:
        if not name.startswith("@"):
            result.add(name)
            continue
        listing = subprocess.run(["systemd-analyze", "syscall-filter", name],
                                 check=True, capture_output=True, text=True).stdout
        members = [line.strip() for line in listing.splitlines()[1:]]
        result |= expand(m for m in members if m and not m.startswith("#"))
    return result


def allowed_system_calls(unit: Dict) -> Set[str]:
    """What SystemCallFilter= lines allow, applied in order as systemd does."""
    allowed: Set[str] = set()
    for value in unit_values(unit, "Service", "SystemCallFilter"):
        if value.startswith("~"):
            allowed -= expand(value[1:].split())
        else:
            allowed |= expand(value.split())
    return allowed


class Seccomp:
    def __init__(self) -> None:
        path = ctypes.util.find_library("seccomp")
        if path is None:
            raise OSError("libseccomp is not installed")
        self.lib = ctypes.CDLL(path, use_errno=True)
        self.lib.seccomp_init.restype = ctypes.c_void_p
        self.lib.seccomp_init.argtypes = [ctypes.c_uint32]
        self.lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        self.lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                                    ctypes.c_uint, ctypes.POINTER(ArgCmp)]
        self.lib.seccomp_load.argtypes = [ctypes.c_void_p]
        self.lib.seccomp_release.argtypes = [ctypes.c_void_p]

    def number(self, name: str) -> int:
        """The native system call number, or negative when this ABI has no such call."""
        return self.lib.seccomp_syscall_resolve_name(name.encode())

    def filter(self, default_action: int, rules: List) -> None:
        """Loads one filter: rules are (action, system call name, [ArgCmp...])."""
        ctx = self.lib.seccomp_init(default_action)
        if not ctx:
            raise OSError("seccomp_init failed")
        try:
            for action, name, comparisons in rules:
                number = self.number(name)
                if number < 0:
                    continue
                array = (ArgCmp * len(comparisons))(*comparisons) if comparisons else None
                rc = self.lib.seccomp_rule_add_array(ctx, action, number, len(comparisons), array)
                if rc < 0:
                    raise OSError(-rc, f"seccomp_rule_add {name}")
            rc = self.lib.seccomp_load(ctx)
            if rc < 0:
                raise OSError(-rc, "seccomp_load")
        finally:
            self.lib.seccomp_release(ctx)


def apply(unit: Dict, allowed_calls: Set[str]) -> None:
    """Loads the unit's filters into this process (and what it execs)."""
    seccomp = Seccomp()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")

    families = unit_values(unit, "Service", "RestrictAddressFamilies")
    if families:
        [value] = families
        assert not value.startswith("~"), "only an allow list is reproduced"
        allowed = {FAMILIES[name] for name in value.split()}
        rules = [(scmp_act_errno(EAFNOSUPPORT), "socket", [ArgCmp(0, SCMP_CMP_EQ, family, 0)])
                 for family in range(AF_MAX) if family not in allowed]
        rules.append((scmp_act_errno(EAFNOSUPPORT), "socket", [ArgCmp(0, SCMP_CMP_GE, AF_MAX, 0)]))
        seccomp.filter(SCMP_ACT_ALLOW, rules)

    if unit_values(unit, "Service", "MemoryDenyWriteExecute") == ["yes"]:
        both = PROT_WRITE | PROT_EXEC
        seccomp.filter(SCMP_ACT_ALLOW, [
            (scmp_act_errno(EPERM), "mmap", [ArgCmp(2, SCMP_CMP_MASKED_EQ, both, both)]),
            (scmp_act_errno(EPERM), "mprotect", [ArgCmp(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC)]),
            (scmp_act_errno(EPERM), "pkey_mprotect", [ArgCmp(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC)]),
            (scmp_act_errno(EPERM), "shmat", [ArgCmp(2, SCMP_CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC)]),
        ])

    # Last, so that the calls above were still allowed. A filter built by seccomp_init is
    # for the native architecture only, as SystemCallArchitectures=native asks.
    if unit_values(unit, "Service", "SystemCallFilter"):
        assert unit_values(unit, "Service", "SystemCallArchitectures") == ["native"]
        seccomp.filter(SCMP_ACT_KILL_PROCESS, [(SCMP_ACT_ALLOW, name, []) for name in sorted(allowed_calls)])


def main(argv: List[str]) -> None:
    separator = argv.index("--")
    options, command = argv[:separator], argv[separator + 1:]
    unit_path = Path(options[0])
    user = options[options.index("--user") + 1] if "--user" in options else None
    # Expand the groups while systemd-analyze can still be run.
    unit = parse_unit(unit_path.read_text())
    allowed_calls = allowed_system_calls(unit)
    if user is not None and os.geteuid() == 0:
        entry = pwd.getpwnam(user)
        os.setgroups([])
        os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)
    apply(unit, allowed_calls)
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
