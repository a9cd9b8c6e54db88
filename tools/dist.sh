#!/usr/bin/env bash
# The release tarball (`make dist`): authd, authctl, auth-mailer and authbench built in
# release mode with the Swift runtime linked in (--static-swift-stdlib), so that they run
# on a Debian machine without the Swift toolchain; the systemd units, the example
# configuration and environment files of deploy/, and the operator's docs.
#
#   tools/dist.sh                      build, then write dist/authd-<VERSION>-linux-<arch>.tar.gz
#                                      and its .sha256
#   tools/dist.sh --name               print that path; build nothing
#   tools/dist.sh --package BIN OUT    package the binaries already in BIN into OUT/<same name>
#                                      (no build: for the packaging test)
#
# The build has its own scratch directory (.build-dist, ignored by git), so it never mixes
# with the debug build of `make build` / `make test`. The tarball is the same bytes for the
# same binaries: files sorted, owned by root, dated at the commit, gzip without a timestamp.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(tr -d ' \t\r\n' < VERSION)
arch=$(uname -m)
name="authd-$version-linux-$arch"
products=(authd authctl auth-mailer authbench)

# What the binaries in DIR load directly (their NEEDED entries), as Debian packages where
# dpkg knows the library, else as the library's name. The packages bring their own
# dependencies.
needed_packages() {
    local sonames
    sonames=$(for product in "${products[@]}"; do readelf -d "$1/$product"; done \
        | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort -u)
    for soname in $sonames; do
        owner=$(dpkg -S "*/$soname" 2>/dev/null | head -1 | cut -d: -f1)
        echo "${owner:-$soname}"
    done | sort -u | tr '\n' ' ' | sed 's/ $//'
}

# package BIN_DIR OUT_DIR: the tarball of the binaries in BIN_DIR.
package() {
    local bin=$1 out=$2
    local stage root tarball mtime
    stage=$(mktemp -d)
    trap 'rm -rf "$stage"' RETURN
    root="$stage/$name"
    mkdir -p "$root/bin" "$root/systemd" "$root/etc" "$root/docs"
    for product in "${products[@]}"; do
        # Function names stay (the Swift runtime's crash backtraces print them); DWARF goes.
        strip --strip-debug -o "$root/bin/$product" "$bin/$product"
        chmod 0755 "$root/bin/$product"
    done
    # Every unit, and every other file of deploy/ (example configuration and environment).
    for file in deploy/*; do
        case "$file" in
            *.service | *.socket | *.timer) install -m 0644 "$file" "$root/systemd/" ;;
            *) install -m 0644 "$file" "$root/etc/" ;;
        esac
    done
    install -m 0644 docs/operations.md docs/configuration.md docs/authctl.md docs/mailer.md docs/protocol.md "$root/docs/"
    install -m 0644 README.md VERSION "$root/"
    local versions
    versions=$(for product in "${products[@]}"; do "$root/bin/$product" --version; done | sort -u)
    if [ "$(wc -l <<< "$versions")" != 1 ]; then
        echo "dist: the binaries are of different builds:"$'\n'"$versions" >&2
        return 1
    fi
    {
        echo "version: $version"
        echo "commit: $(sed -n 's/.*(commit \(.*\)).*/\1/p' <<< "$versions")"
        echo "arch: $arch"
        echo "needs: $(needed_packages "$root/bin")"
    } > "$root/BUILD-INFO"
    chmod 0644 "$root/BUILD-INFO"

    mkdir -p "$out"
    tarball="$out/$name.tar.gz"
    mtime=$(git log -1 --format=%cI 2>/dev/null || echo 1970-01-01T00:00:00Z)
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="$mtime" \
        -C "$stage" -cf - "$name" | gzip -n "-${GZIP_LEVEL:-9}" > "$tarball.partial"
    mv "$tarball.partial" "$tarball"
    (cd "$out" && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256")
    echo "dist: $tarball ($(du -h "$tarball" | cut -f1))"
}

case "${1:-}" in
    --name)
        echo "dist/$name.tar.gz"
        ;;
    --package)
        package "$2" "$3"
        ;;
    "")
        scratch=${DIST_SCRATCH:-.build-dist}
        if ! git diff --quiet HEAD -- 2>/dev/null; then
            echo "dist: the work tree has changes: the binaries will say commit …-dirty" >&2
        fi
        echo "dist: swift build -c release --static-swift-stdlib --scratch-path $scratch (slow)"
        # One build of every product: the version plugin runs once, so all four say the
        # same commit.
        swift build -c release --static-swift-stdlib --scratch-path "$scratch"
        package "$(swift build -c release --static-swift-stdlib --scratch-path "$scratch" --show-bin-path)" dist
        ;;
    *)
        echo "usage: tools/dist.sh [--name | --package BIN_DIR OUT_DIR]" >&2
        exit 64
        ;;
esac
