#!/usr/bin/env bash
# Install what mmodc needs to run and to be tested, into the current Python.
#
# Usage: bash tools/install_deps.sh        (PYTHON=/path/to/python to choose)
#
# 1. Fashion-MNIST from Debian's package dataset-fashion-mnist, and Debian's
#    chromium (the tests open cluster_images' HTML report in it headless);
#    needs root, otherwise it says what to run and goes on.
# 2. The pinned Python stack of requirements.txt, then openmim 0.3.9 without
#    its declared dependencies (see requirements/mim.txt). Skipped when every
#    requirement is already met, so a second run takes seconds.
# 3. mmodc itself as an editable install (`pip install -e .`): the tools,
#    tests and `mim train mmodc ...` then always use this checkout.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$(command -v python || command -v python3)}
PIP=("$PYTHON" -m pip)
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore

# 1. Debian packages: Fashion-MNIST and chromium
FASHION_MNIST=/usr/share/datasets/fashion-mnist
PACKAGES=()
[ -f "$FASHION_MNIST/train-images-idx3-ubyte.gz" ] ||
    PACKAGES+=(dataset-fashion-mnist)
command -v chromium > /dev/null || PACKAGES+=(chromium)
if [ ${#PACKAGES[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y "${PACKAGES[@]}"
    else
        echo "install_deps.sh: missing Debian packages ${PACKAGES[*]};" \
            "as root run: apt-get update && apt-get install -y" \
            "${PACKAGES[*]} (what needs them cannot run until then)" >&2
    fi
fi

# 2. Python stack: met already?
requirements_met() {
    "$PYTHON" - requirements/runtime.txt requirements/mim.txt \
        requirements/tests.txt << 'PYEOF' > /dev/null 2>&1
import sys
import warnings
from importlib.metadata import version

warnings.simplefilter('ignore')
import pkg_resources  # noqa: E402  (setuptools < 82 is itself a requirement)

for path in sys.argv[1:]:
    with open(path) as f:
        pkg_resources.require(f.read())
assert version('openmim') == '0.3.9'
PYEOF
}

if requirements_met; then
    echo "install_deps.sh: Python requirements already met"
else
    "${PIP[@]}" install -r requirements.txt
    "${PIP[@]}" install --no-deps openmim==0.3.9
fi

# 3. mmodc, editable (a few seconds; refreshes site-packages/mmodc/.mim)
"${PIP[@]}" install -q --no-deps --no-build-isolation -e .
echo "install_deps.sh: done ($("$PYTHON" --version), mmodc from $(pwd))"
