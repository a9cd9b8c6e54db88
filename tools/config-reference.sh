#!/usr/bin/env bash
# Writes `authd --config-reference` and `auth-mailer --config-reference` (the tables of
# every key, printed from the schema and the configuration structs' defaults) between
# the markers of docs/configuration.md and docs/operations.md:
#   <!-- config-reference authd -->  ...  <!-- /config-reference -->
# Run it after adding or changing a key (test_configuration.py fails until then):
#   swift build && tools/config-reference.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN_DIR:-.build/debug}
python3 - "$bin" docs/configuration.md docs/operations.md <<'PY'
import re, subprocess, sys
bin_dir, *docs = sys.argv[1:]
tables = {p: subprocess.run([f"{bin_dir}/{p}", "--config-reference"], check=True, capture_output=True,
                            text=True).stdout for p in ("authd", "auth-mailer")}
pattern = re.compile(r"(<!-- config-reference (authd|auth-mailer) -->\n).*?(<!-- /config-reference -->)", re.S)
for doc in docs:
    text = open(doc).read()
    new, count = pattern.subn(lambda m: m.group(1) + "\n" + tables[m.group(2)] + "\n" + m.group(3), text)
    if count != 2:
        sys.exit(f"{doc}: expected the two config-reference markers, found {count}")
    open(doc, "w").write(new)
    print(f"{doc}: written")
PY
