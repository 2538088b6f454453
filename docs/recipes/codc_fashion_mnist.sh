#!/bin/bash
# The CODC experiment of the README (issue 14): the two Fashion-MNIST
# networks trained independently ("alone") and collaborating ("codc"),
# 4 epochs (the LR x0.4 after 3, as the recipe study's screening), seeds 0
# and 1, then every network's features and their concatenation scored on
# the test split; then the low-shot SVMs (k = 1..96, 5 draws, the same
# draws for every feature set) of every network and their concatenation,
# seeds averaged.
#
#   bash docs/recipes/codc_fashion_mnist.sh            # train and score
#   SEEDS="0" bash docs/recipes/codc_fashion_mnist.sh  # one seed
#   MODELS=3 SEEDS="0" NO_SVM=1 bash docs/recipes/codc_fashion_mnist.sh
#       # the 3-model rows (adds mixup classification), as in the README
set -e
cd "$(dirname "$0")/../.."
C=configs/selfsup/codc
F=resnet18-w16_1xb256-steplr-8e_fashionmnist.py
OUT=work_dirs/codc_study
PREFIX=codc
MEMBERS=(clustering rotation)
if [ "${MODELS:-2}" = 3 ]; then
  OUT=work_dirs/codc3_study
  PREFIX=codc-3models
  MEMBERS=(clustering rotation classification)
fi
RUNS=()
for seed in ${SEEDS:-0 1}; do
  for row in independent codc; do
    config=$C/${PREFIX}_$F
    [ $row = independent ] && config=$C/$PREFIX-independent_$F
    work=$OUT/$row-seed$seed
    python tools/train.py $config --work-dir $work --cfg-options \
      train_cfg.max_epochs=4 'param_scheduler.0.milestones=[3]' \
      randomness.seed=$seed
    RUNS+=("$row-seed$seed=$config,$work/epoch_4.pth")
  done
done
python tools/analysis/codc_table.py "${RUNS[@]}" --members "${MEMBERS[@]}" \
  --out $OUT/table.json
[ -n "${NO_SVM:-}" ] && exit 0
SVM=configs/benchmarks/classification/fashionmnist/svm_resnet18-w16_fashionmnist.py
SAMPLES=()   # every feature set on the first run's draws
TABLE=()
for row in independent codc; do
  # every network alone, then all of them concatenated
  for models in "${MEMBERS[@]}" "$(IFS=,; echo "${MEMBERS[*]}")"; do
    name=$row-${models//,/+}
    results=()
    for seed in ${SEEDS:-0 1}; do
      work=$OUT/svm/$name-seed$seed
      python tools/benchmarks/svm_voc07.py $SVM $OUT/$row-seed$seed/epoch_4.pth \
        --models $models --no-full --low-shot-levels 5 --work-dir $work \
        "${SAMPLES[@]}"
      [ ${#SAMPLES[@]} = 0 ] && SAMPLES=(--samples $work/low_shot_samples.npz)
      results+=($work/svm_voc07.json)
    done
    TABLE+=("$name=$(IFS=,; echo "${results[*]}")")
  done
done
python tools/analysis/low_shot_table.py "${TABLE[@]}" --out $OUT/svm/table.json
