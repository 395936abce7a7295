#!/usr/bin/env bash
# Step 3 of the GitHub Action: make sure keyless is installed in its own virtual
# environment, from the action's own files, and put it on PATH for later steps.
#
# The environment is complete only when it carries the marker file written last, so a
# build interrupted halfway (or restored half from a cache) is rebuilt, never used.
set -euo pipefail

action_dir=${GITHUB_ACTION_PATH:?GITHUB_ACTION_PATH is not set; run this as part of the action}
python=${KEYLESS_ACTION_PYTHON:-python3}
venv=${KEYLESS_ACTION_VENV:?the locate step did not run}
key=${KEYLESS_ACTION_KEY:?the locate step did not run}
marker="$venv/.keyless-action-key"

if [ -f "$marker" ] && [ "$(cat "$marker")" = "$key" ] && "$venv/bin/keyless" --version >/dev/null 2>&1; then
    cache_hit=true
    echo "keyless: using the environment in $venv"
else
    cache_hit=false
    echo "keyless: installing into $venv"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    # A copy keeps pip's build files out of the action's folder, which may be read-only.
    source_copy=$(mktemp -d "${RUNNER_TEMP:-/tmp}/keyless-source.XXXXXX")
    cp -R "$action_dir/pyproject.toml" "$action_dir/README.md" "$action_dir/src" "$source_copy/"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "$source_copy"
    rm -rf "$source_copy"
    printf '%s\n' "$key" >"$marker"
fi

version=$("$venv/bin/keyless" --version)
echo "$venv/bin" >>"$GITHUB_PATH"
{
    echo "cache-hit=$cache_hit"
    echo "version=${version#keyless }"
    echo "bin=$venv/bin"
} >>"$GITHUB_OUTPUT"
