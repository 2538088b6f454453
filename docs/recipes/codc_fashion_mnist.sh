#!/bin/bash
# The CODC experiment of the README (issue 14): the two Fashion-MNIST
# networks trained independently ("alone") and collaborating ("codc"),
# 4 epochs (the LR x0.4 after 3, as the recipe study's screening), seeds 0
# and 1, then every network's features and their concatenation scored on
# the test split.
#
#   bash docs/recipes/codc_fashion_mnist.sh            # train and score
#   SEEDS="0" bash docs/recipes/codc_fashion_mnist.sh  # one seed
set -e
cd "$(dirname "$0")/../.."
C=configs/selfsup/codc
F=resnet18-w16_1xb256-steplr-8e_fashionmnist.py
OUT=work_dirs/codc_study
RUNS=()
for seed in ${SEEDS:-0 1}; do
  for row in independent codc; do
    config=$C/codc_$F
    [ $row = independent ] && config=$C/codc-independent_$F
    work=$OUT/$row-seed$seed
    python tools/train.py $config --work-dir $work --cfg-options \
      train_cfg.max_epochs=4 'param_scheduler.0.milestones=[3]' \
      randomness.seed=$seed
    RUNS+=("$row-seed$seed=$config,$work/epoch_4.pth")
  done
done
python tools/analysis/codc_table.py "${RUNS[@]}" --out $OUT/table.json
