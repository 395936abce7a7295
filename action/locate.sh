#!/usr/bin/env bash
# Step 1 of the GitHub Action: choose where keyless's virtual environment lives and the
# cache key that identifies it.
#
# The key names the keyless version, a hash of the files the action installs from, the
# runner's OS and architecture, and the Python version, so a cached environment is
# reused only when it would be built the same way. The hash matters for actions used at
# a branch such as @main, where the version number stays the same while the code moves.
set -euo pipefail

action_dir=${GITHUB_ACTION_PATH:?GITHUB_ACTION_PATH is not set; run this as part of the action}
python=${KEYLESS_ACTION_PYTHON:-python3}

if ! command -v "$python" >/dev/null 2>&1; then
    echo "::error title=keyless::Python '$python' not found; add actions/setup-python before this step or set the python input"
    exit 2
fi
# Prints the version, and exits 1 when it is older than keyless supports.
version_check='import sys; print("%d.%d" % sys.version_info[:2]); sys.exit(sys.version_info < (3, 10))'
if ! python_version=$("$python" -c "$version_check"); then
    echo "::error title=keyless::Python $python_version is too old; keyless needs 3.10 or newer (use actions/setup-python)"
    exit 2
fi

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$action_dir/pyproject.toml" | head -n 1)
if [ -z "$version" ]; then
    echo "::error title=keyless::no version found in $action_dir/pyproject.toml"
    exit 3
fi
# Python rather than sha256sum, which macOS runners do not have.
sources_hash=$("$python" - "$action_dir" <<'PYTHON'
import hashlib
import sys
from pathlib import Path

root = Path(sys.argv[1])
digest = hashlib.sha256()
files = [root / "pyproject.toml", *sorted((root / "src").rglob("*"))]
for path in files:
    if path.is_file() and path.suffix != ".pyc":
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
print(digest.hexdigest()[:12])
PYTHON
)
os=$(uname -s | tr '[:upper:]' '[:lower:]')-$(uname -m)
key="keyless-$version-$sources_hash-$os-py$python_version"
cache_root=${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:?neither RUNNER_TOOL_CACHE nor RUNNER_TEMP is set}}

{
    echo "version=$version"
    echo "key=$key"
    echo "venv=$cache_root/keyless/$key"
} >>"$GITHUB_OUTPUT"
