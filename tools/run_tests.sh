#!/usr/bin/env bash
# Install what is missing (tools/install_deps.sh), then run the whole test
# suite. This is the README's test command and what CI (.ci/run) runs.
#
# Usage: bash tools/run_tests.sh [extra pytest options, e.g. -m "not slow"]
#
# The exit status is pytest's, except that a run that collected no tests
# (pytest's status 5) fails as well.
set -euo pipefail

cd "$(dirname "$0")/.."
bash tools/install_deps.sh
PYTHON=${PYTHON:-$(command -v python || command -v python3)}

status=0
"$PYTHON" -m pytest tests -q "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "run_tests.sh: pytest ran no tests; failing" >&2
    exit 1
fi
exit "$status"
