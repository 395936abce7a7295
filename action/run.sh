#!/usr/bin/env bash
# Step 4 of the GitHub Action: run keyless in the mode the workflow chose.
#
# Flags come from the KEYLESS_* variables that action.yml sets from the inputs; the
# KEYLESS_ACTION_* variables carry the inputs that are not flags. In scan mode every
# check runs, even after one finds something. The step then exits with the worst exit
# code among them: 3 internal error, 2 usage or configuration error, 1 findings, 0 clean.
set -euo pipefail

mode=${KEYLESS_ACTION_MODE:-scan}
workdir=${KEYLESS_ACTION_WORKING_DIRECTORY:-${GITHUB_WORKSPACE:-.}}
cd "$workdir"

zero_sha=0000000000000000000000000000000000000000
worst=0
findings=false
summary_rows=()

# Run one check: keyless ARGS..., adding a SARIF file when asked. Records the result.
run_check() {
    local title=$1 sarif_name=$2
    shift 2
    local args=("$@")
    if [ -n "${KEYLESS_ACTION_FORMAT:-}" ]; then
        args+=(--format "$KEYLESS_ACTION_FORMAT")
    fi
    if [ "${KEYLESS_ACTION_SARIF:-true}" = true ]; then
        args+=(--sarif-output "$sarif_dir/$sarif_name.sarif")
    fi
    echo "keyless: $title"
    local status=0
    keyless "${args[@]}" || status=$?
    local result
    case $status in
        0) result="passed" ;;
        1) result="findings"; findings=true ;;
        130) result="interrupted" ;;
        *) result="error (exit $status)" ;;
    esac
    summary_rows+=("| $title | $result |")
    if [ "$status" -gt "$worst" ]; then
        worst=$status
    fi
}

# Print the `keyless scan` option that selects the commits to scan (`--history` for
# all of them, `--range=A..B` for some), or nothing to skip the history scan.
history_option() {
    local choice=${KEYLESS_ACTION_HISTORY:-auto}
    case $choice in
        none | false | "") ;;
        all) echo "--history" ;;
        auto) auto_range ;;
        *) echo "--range=$choice" ;;
    esac
}

auto_range() {
    local head=${GITHUB_SHA:-HEAD}
    case ${GITHUB_EVENT_NAME:-} in
        pull_request | pull_request_target)
            if [ -n "${KEYLESS_ACTION_PR_BASE:-}" ] && [ -n "${KEYLESS_ACTION_PR_HEAD:-}" ]; then
                echo "--range=$KEYLESS_ACTION_PR_BASE..$KEYLESS_ACTION_PR_HEAD"
            fi
            ;;
        push)
            local before=${KEYLESS_ACTION_EVENT_BEFORE:-}
            local default_branch=${KEYLESS_ACTION_DEFAULT_BRANCH:-}
            if [ -n "$before" ] && [ "$before" != "$zero_sha" ]; then
                echo "--range=$before..$head"
            elif [ -n "$default_branch" ] &&
                git rev-parse --verify --quiet "refs/remotes/origin/$default_branch" >/dev/null; then
                # A new branch: its commits that the default branch does not have.
                echo "--range=origin/$default_branch..$head"
            else
                # A new branch with no default branch to compare with: all of its commits.
                echo "--range=$zero_sha..$head"
            fi
            ;;
        *)
            echo "keyless: history is auto and the event '${GITHUB_EVENT_NAME:-unknown}' has" \
                "no pushed range, so no commits are scanned; set the history input to scan them" >&2
            ;;
    esac
}

# Give the history scan's SARIF its own code scanning category. Both secret scans
# name their runs keyless/secrets/..., and GitHub rejects an upload that has two runs
# with the same category.
separate_history_category() {
    local python
    python="$(dirname "$(command -v keyless)")/python"
    "$python" - "$1" <<'PYTHON'
import json
import sys

path = sys.argv[1]
with open(path, encoding="utf-8") as handle:
    log = json.load(handle)
for run in log.get("runs", []):
    details = run.get("automationDetails", {})
    details["id"] = details.get("id", "").replace("keyless/secrets/", "keyless/history/", 1)
with open(path, "w", encoding="utf-8") as handle:
    json.dump(log, handle)
PYTHON
}

scan_mode() {
    sarif_dir="${RUNNER_TEMP:?RUNNER_TEMP is not set}/keyless-sarif"
    mkdir -p "$sarif_dir"

    local paths=()
    if [ -n "${KEYLESS_ACTION_PATHS:-}" ]; then
        mapfile -t paths < <(printf '%s\n' "$KEYLESS_ACTION_PATHS" | sed '/^[[:space:]]*$/d')
    fi
    run_check "secrets in the work tree" "secrets" scan "${paths[@]}"

    local history
    history=$(history_option)
    case $history in
        "") ;;
        --history) run_check "secrets in all commits" "history" scan --history ;;
        *) run_check "secrets in commits ${history#--range=}" "history" scan "$history" ;;
    esac
    if [ -f "$sarif_dir/history.sarif" ]; then
        separate_history_category "$sarif_dir/history.sarif"
    fi

    if [ "${KEYLESS_ACTION_AUDIT:-true}" = true ]; then
        run_check "pipeline configuration" "audit" audit
    fi

    {
        echo "findings=$findings"
        echo "sarif=$sarif_dir"
    } >>"$GITHUB_OUTPUT"
    if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
        {
            echo "### keyless checks"
            echo ""
            echo "| check | result |"
            echo "| --- | --- |"
            printf '%s\n' "${summary_rows[@]}"
            echo ""
        } >>"$GITHUB_STEP_SUMMARY"
    fi
    exit "$worst"
}

case $mode in
    scan) scan_mode ;;
    aws | gcp | azure)
        if [ -n "${KEYLESS_ACTION_CREDENTIALS:-}" ]; then
            exec keyless "$mode" --credentials "$KEYLESS_ACTION_CREDENTIALS"
        fi
        exec keyless "$mode"
        ;;
    vault | revoke) exec keyless "$mode" ;;
    *)
        echo "::error title=keyless::mode '$mode' is invalid; use scan, vault, aws, gcp, azure or revoke"
        exit 2
        ;;
esac
