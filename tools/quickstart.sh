#!/usr/bin/env bash
# ODC quickstart: install what is missing, train ODC on Fashion-MNIST's
# 60,000 training images on the CPU (14 minutes in all on a slow 2-core
# CPU on 2026-12-07, where the test suite took twice as long as on the
# faster box of README.md's earlier runs), then evaluate the checkpoint and
# print the report.
#
# Usage: bash tools/quickstart.sh [WORK_DIR]     (default work_dirs/quickstart)
#        PYTHON=/path/to/python bash tools/quickstart.sh
#        SKIP_INSTALL=1 bash tools/quickstart.sh  (do not run install_deps.sh)
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$(command -v python || command -v python3)}
CONFIG=configs/selfsup/odc/odc_resnet18-w16_1xb256-steplr-8e_fashionmnist.py
WORK_DIR=${1:-work_dirs/quickstart}

# 1. Dependencies and data.
if [ "${SKIP_INSTALL:-0}" != 1 ] && [ -f tools/install_deps.sh ]; then
    echo "quickstart: installing what is missing (tools/install_deps.sh)"
    PYTHON="$PYTHON" bash tools/install_deps.sh
fi
if ! "$PYTHON" -c 'import mmodc' 2> /dev/null; then
    echo "quickstart: mmodc cannot be imported by $PYTHON; run" \
        "'bash tools/install_deps.sh' (or 'pip install -e .') first." >&2
    exit 1
fi
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    echo "quickstart: Fashion-MNIST is missing from" \
        "/usr/share/datasets/fashion-mnist; as root run 'apt-get install -y" \
        "dataset-fashion-mnist', or put the four idx .gz files in a folder" \
        "and train with --cfg-options data_root=FOLDER" \
        "train_dataloader.dataset.data_root=FOLDER" \
        "extract_dataloader.dataset.data_root=FOLDER" \
        "custom_hooks.0.extract_dataloader.dataset.data_root=FOLDER." >&2
    exit 1
fi

# 2. Training (timed).
echo "quickstart: training $CONFIG into $WORK_DIR"
start=$(date +%s)
"$PYTHON" tools/train.py "$CONFIG" --work-dir "$WORK_DIR"
echo "quickstart: training took $(( $(date +%s) - start )) s"

# 3. Report on the last checkpoint.
checkpoint=$(cat "$WORK_DIR/last_checkpoint")
echo "quickstart: evaluating $checkpoint"
"$PYTHON" tools/analysis/odc_report.py "$CONFIG" "$checkpoint" \
    --work-dir "$WORK_DIR/report"
echo "quickstart: report, figures and scores in $WORK_DIR/report"
