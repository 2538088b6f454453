#!/usr/bin/env bash
# Install what is missing (tools/install_deps.sh), then run the whole test
# suite. This is the README's test command and what CI (.ci/run) runs.
#
# Usage: bash tools/run_tests.sh [extra pytest options, e.g. -m "not slow"]
#
# The tests run on one pytest-xdist worker per CPU core (`-n auto`): most
# of the suite's time is training subprocesses with one thread each, which
# a single worker would run one at a time. Each worker starts with an
# equal share of the tests in order and one that runs out takes the last
# half of the longest queue left (`--dist worksteal`), so a file's
# module-scoped fixtures (e.g. a trained model) are built twice only where
# a share is split. `-n 0` (after the command) runs everything in one process.
#
# The exit status is pytest's, except that a run that collected no tests
# (pytest's status 5) fails as well.
set -euo pipefail

cd "$(dirname "$0")/.."
bash tools/install_deps.sh
PYTHON=${PYTHON:-$(command -v python || command -v python3)}

status=0
"$PYTHON" -m pytest tests -q -n auto --dist worksteal "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "run_tests.sh: pytest ran no tests; failing" >&2
    exit 1
fi
exit "$status"
