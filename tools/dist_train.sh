#!/usr/bin/env bash
# Train with several processes on this machine (or on several machines).
#
# Usage: bash tools/dist_train.sh CONFIG NUM_PROCESSES [train.py options]
#   e.g. bash tools/dist_train.sh configs/selfsup/odc/odc_resnet50_8xb64-steplr-440e_in1k.py 8
# One process per GPU; without CUDA the processes share the CPU over gloo.
# Several machines: run it on each with NNODES, NODE_RANK, MASTER_ADDR and
# PORT set alike (PORT defaults to 29500, MASTER_ADDR to 127.0.0.1).
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: bash tools/dist_train.sh CONFIG NUM_PROCESSES [train.py options]" >&2
    exit 2
fi

CONFIG=$1
GPUS=$2
shift 2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
TOOLS_DIR=$(cd "$(dirname "$0")" && pwd)

PYTHONPATH="$TOOLS_DIR/..${PYTHONPATH:+:$PYTHONPATH}" \
python -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$TOOLS_DIR/train.py" "$CONFIG" --launcher pytorch "$@"
