#!/usr/bin/env bash
# `make dist-check`: the tarball of `make dist` works on a machine without the Swift
# toolchain. It unpacks the tarball into a temporary directory and
#   1. checks its layout (binaries, units, example files, docs/operations.md);
#   2. asserts that `ldd` resolves every library of every binary, none from the toolchain
#      directory (/opt/swift: the one `swift` runs from), and prints what they still need;
#   3. hides the toolchain directory (a private mount namespace with an empty tmpfs over
#      it, when this runs as root and unshare is allowed; otherwise it only clears
#      LD_LIBRARY_PATH and says so), then runs every binary's --version with a bare
#      environment, starts the tarball's authd on a free port, makes a Health call (the
#      Python client) and an Admin call (the tarball's authctl, with the first admin key),
#      and stops authd with SIGTERM, which must exit 0.
#
#   tools/dist-check.sh [TARBALL]     default: the one `tools/dist.sh --name` names
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

if [ "${1:-}" = "--inside" ]; then
    inside=1
    shift
else
    inside=0
fi
tarball=${1:-$(tools/dist.sh --name)}
[ -f "$tarball" ] || { echo "dist-check: no $tarball: run make dist first" >&2; exit 1; }
tarball=$(cd "$(dirname "$tarball")" && pwd)/$(basename "$tarball")

if [ -z "${SWIFT_TOOLCHAIN_DIR:-}" ]; then
    if swift=$(command -v swift); then
        # /opt/swift/usr/bin/swift → /opt/swift
        SWIFT_TOOLCHAIN_DIR=$(dirname "$(dirname "$(dirname "$(readlink -f "$swift")")")")
    else
        SWIFT_TOOLCHAIN_DIR=/opt/swift
    fi
fi
export SWIFT_TOOLCHAIN_DIR
python=$repo/.venv/bin/python
[ -x "$python" ] || { echo "dist-check: no $python: run make python-deps" >&2; exit 1; }

# Step 3 needs a private mount namespace: re-run this script inside one.
if [ "$inside" = 0 ] && [ "$(id -u)" = 0 ] && [ -d "$SWIFT_TOOLCHAIN_DIR" ] \
        && unshare --mount --propagation private true 2>/dev/null; then
    exec unshare --mount --propagation private "$0" --inside "$tarball"
fi

fail() { echo "dist-check: FAILED: $*" >&2; exit 1; }

work=$(mktemp -d)
pid=
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

tar -xzf "$tarball" -C "$work"
root=$(echo "$work"/authd-*)
[ -d "$root" ] || fail "the tarball has no authd-* directory"
echo "dist-check: $(basename "$tarball") unpacked ($(du -sh "$root" | cut -f1))"

# 1. Layout.
binaries=(authd authctl auth-mailer authbench)
for file in "${binaries[@]/#/bin/}" systemd/authd.service systemd/auth-mailer.service \
        etc/authd.env etc/auth-mailer.env docs/operations.md BUILD-INFO VERSION; do
    [ -f "$root/$file" ] || fail "$file is missing"
done
for binary in "${binaries[@]}"; do
    [ -x "$root/bin/$binary" ] || fail "bin/$binary is not executable"
done

# 2. Shared libraries.
echo "dist-check: shared libraries (ldd):"
needed=()
for binary in "${binaries[@]}"; do
    listing=$(env -u LD_LIBRARY_PATH ldd "$root/bin/$binary") || fail "ldd bin/$binary failed"
    if grep -q "not found" <<< "$listing"; then
        fail "bin/$binary needs libraries this machine lacks:"$'\n'"$(grep "not found" <<< "$listing")"
    fi
    if grep -qF "$SWIFT_TOOLCHAIN_DIR/" <<< "$listing"; then
        fail "bin/$binary loads libraries from the toolchain ($SWIFT_TOOLCHAIN_DIR):"$'\n'"$(grep -F "$SWIFT_TOOLCHAIN_DIR/" <<< "$listing")"
    fi
    libraries=$(awk '{print $1}' <<< "$listing" | grep -v '^linux-vdso' | sed 's|.*/||' | sort | tr '\n' ' ')
    echo "  $binary: $libraries"
    needed+=($libraries)
done
runpath=$(readelf -d "$root/bin/authd" | grep -E 'RUNPATH|RPATH' || true)
echo "  authd's RUNPATH: ${runpath:-none}"
# Which Debian packages hold them, with their dependencies (BUILD-INFO names the ones the
# binaries link directly: the apt line of docs/operations.md).
packages=$(for library in $(printf '%s\n' "${needed[@]}" | sort -u); do
    dpkg -S "*/$library" 2>/dev/null | head -1 | cut -d: -f1
done | sort -u | tr '\n' ' ')
echo "  from Debian packages (and their dependencies): $packages"
echo "  $(grep '^needs:' "$root/BUILD-INFO")"

# 3. Run, with the toolchain out of reach.
if [ "$inside" = 1 ]; then
    mount -t tmpfs -o ro,size=4k authd-dist-check "$SWIFT_TOOLCHAIN_DIR"
    [ -z "$(ls -A "$SWIFT_TOOLCHAIN_DIR")" ] || fail "could not hide $SWIFT_TOOLCHAIN_DIR"
    echo "dist-check: $SWIFT_TOOLCHAIN_DIR hidden (an empty tmpfs over it, in a private mount namespace)"
else
    echo "dist-check: $SWIFT_TOOLCHAIN_DIR NOT hidden (needs root and unshare); LD_LIBRARY_PATH cleared only"
fi
bare=(env -i PATH=/usr/bin:/bin HOME="$work")
version=$(tr -d ' \t\r\n' < "$root/VERSION")
for binary in "${binaries[@]}"; do
    line=$("${bare[@]}" "$root/bin/$binary" --version) || fail "bin/$binary --version failed"
    [[ "$line" == "$version (commit "* ]] || fail "bin/$binary --version says '$line', not version $version"
    echo "  $binary --version: $line"
done

mkdir "$work/data"
"${bare[@]}" "$root/bin/authd" --host 127.0.0.1 --port 0 --database "$work/data/authd.sqlite" \
    > "$work/authd.out" 2> "$work/authd.err" &
pid=$!
port=
for _ in $(seq 600); do
    port=$(sed -n 's/^authd listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/authd.out")
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || fail "authd exited before listening:"$'\n'"$(cat "$work/authd.out" "$work/authd.err")"
    sleep 0.1
done
[ -n "$port" ] || fail "authd printed no 'listening' line in 60 s"
echo "dist-check: the tarball's authd listens on 127.0.0.1:$port"

status=$(PYTHONPATH="$repo/clients/python" "$python" - "$port" <<'EOF'
import sys
from authd import Client
from auth.v1 import health_pb2
with Client("127.0.0.1", int(sys.argv[1]), default_timeout=10.0, connect_timeout=5.0) as client:
    response = client.health.check(health_pb2.HealthCheckRequest())
print(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))
EOF
) || fail "the Health call failed"
[ "$status" = SERVING ] || fail "Health answered $status"
echo "  Health/Check (Python client): $status"

keys=$("${bare[@]}" "$root/bin/authctl" --address "127.0.0.1:$port" \
    --key-file "$work/data/authd.sqlite.admin-key" keys list) || fail "authctl keys list failed"
grep -q "first admin" <<< "$keys" || fail "authctl keys list does not show the first admin key:"$'\n'"$keys"
echo "  authctl keys list (the tarball's authctl): the first admin key is there"

kill -TERM "$pid"
code=0
wait "$pid" || code=$?
pid=
[ "$code" = 0 ] || fail "authd exited $code after SIGTERM:"$'\n'"$(tail -20 "$work/authd.err")"
echo "dist-check: ok"
