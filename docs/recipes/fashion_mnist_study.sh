#!/usr/bin/env bash
# The Fashion-MNIST recipe study (docs/recipes/fashion_mnist.md): one
# training per row, each monitored on the validation split (training images
# 55,000-59,999 against 0-9,999). Usage:
#   bash docs/recipes/fashion_mnist_study.sh ROW [ROW ...]   (or "all")
# ROW-seedN runs ROW with randomness.seed=N (ROW itself has seed 0).
# Rows take the configs as they are now: an ODC row without its own hook
# options re-fills the memory every epoch (the quickstart's hooks since the
# sixth screening); rows with $ONE_CLUSTERING keep the reference's hooks.
# Rows write into work_dirs/study/ROW; compare them with
#   python tools/analysis/monitor_table.py work_dirs/study/* --out-dir DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
ODC=configs/selfsup/odc/odc_resnet18-w16_1xb256-steplr-8e_fashionmnist.py
ODC40=configs/selfsup/odc/odc_resnet18-w16_1xb256-steplr-40e_fashionmnist.py
DC=configs/selfsup/deepcluster/deepcluster_resnet18-w16_1xb256-steplr-8e_fashionmnist.py
# ODC with DeepCluster's neck (global average pool: no MLP)
ODC_GAP=docs/recipes/odc_gap-neck_fashionmnist.py
# ODC with two extra 16 x 16 views of 20-50 % crops (multi-crop)
ODC_MULTICROP=docs/recipes/odc_multicrop_fashionmnist.py
# ODC and DeepCluster behind the Sobel front end (edges only)
ODC_SOBEL=docs/recipes/odc_sobel_fashionmnist.py
DC_SOBEL=docs/recipes/deepcluster_sobel_fashionmnist.py
VIEWS=model.data_preprocessor.extra_views
# the screening schedule: 4 epochs, LR x0.4 after 3
SHORT="train_cfg.max_epochs=4 param_scheduler.0.milestones=[3]"
# the training augmentations (the model's data preprocessor since
# 2026-12-06; before, the per-image transforms of the dataset pipeline)
AUG=model.data_preprocessor.augment
# the memory's centroids as a cosine classifier (temperature 0.1), signed
# embeddings
CENTROID="model.head.type=CentroidClsHead model.neck.final_relu=False"
# the reference's clustering: once, before training, of the embeddings as
# they are (the quickstart config re-fills its memory after every epoch
# since 2026-12-07, sixth screening)
ONE_CLUSTERING="custom_hooks.0.interval=9999999999 custom_hooks.0.clustering.pca_dim=-1"
# k-means of the memory after every epoch on its whitened PCA-64 (as
# DeepCluster clusters its extracted features)
RECLUSTER_PCA="$ONE_CLUSTERING custom_hooks.1.recluster_interval=1 custom_hooks.1.recluster_pca_dim=64"
# the memory re-filled before every epoch with embeddings extracted as
# DeepCluster extracts (eval mode, un-augmented images), k-means of their
# whitened PCA-64, instead of re-clustering the training-view embeddings;
# the new cluster ids matched to the memory's labels (so the head's classes
# keep their meaning: DeepClusterHook(match_labels=True), 2026-12-07 later)
REEXTRACT_MATCHED="custom_hooks.0.interval=1 custom_hooks.0.clustering.pca_dim=64
custom_hooks.1.recluster_interval=None custom_hooks.1.recluster_pca_dim=-1"
# the same with k-means' own ids (the head's classes reshuffled), as
# re-fills were before match_labels
REEXTRACT="$REEXTRACT_MATCHED custom_hooks.0.match_labels=False"

row() {  # row NAME CONFIG OPTIONS...  (NAME-seedN: with randomness.seed=N)
    local name=$1 config=$2
    shift 2
    if [[ $name =~ -seed([0-9]+)$ ]]; then
        set -- "$@" "randomness.seed=${BASH_REMATCH[1]}"
    fi
    local work_dir=work_dirs/study/$name
    if [ -f "$work_dir/done" ]; then
        echo "study: $name done already"; return
    fi
    echo "study: $name"
    python tools/train.py "$config" --work-dir "$work_dir" \
        --cfg-options log_level=WARNING "$@"
    touch "$work_dir/done"
}

run_row() {  # run_row NAME: the row NAME, or NAME-seedN with seed N
    case ${1%-seed*} in
    odc4-base) row "$1" $ODC $SHORT ;;
    # the base again after the augmentations moved into the data
    # preprocessor (BatchCropFlipJitter, 2026-12-06): same settings
    odc4-batchaug) row "$1" $ODC $SHORT ;;
    odc4-multicrop) row "$1" $ODC_MULTICROP $SHORT ;;
    odc4-multicrop-mild) row "$1" $ODC_MULTICROP $SHORT \
        "$VIEWS.0.crop_ratio_range=(0.35,0.8)" "$VIEWS.0.output_size=(20,20)" \
        "$VIEWS.1.crop_ratio_range=(0.35,0.8)" "$VIEWS.1.output_size=(20,20)" ;;
    dc4-batchaug) row "$1" $DC $SHORT ;;
    odc4-sobel) row "$1" $ODC_SOBEL $SHORT ;;
    odc4-sobel-nojitter) row "$1" $ODC_SOBEL $SHORT $AUG.brightness=0.0 \
        $AUG.contrast=0.0 ;;
    dc4-sobel) row "$1" $DC_SOBEL $SHORT ;;
    odc4-k10) row "$1" $ODC $SHORT model.head.num_classes=10 \
        model.memory_bank.num_classes=10 custom_hooks.0.clustering.k=10 ;;
    odc4-k100) row "$1" $ODC $SHORT model.head.num_classes=100 \
        model.memory_bank.num_classes=100 custom_hooks.0.clustering.k=100 ;;
    odc4-mom0.2) row "$1" $ODC $SHORT model.memory_bank.momentum=0.2 ;;
    odc4-mom0.8) row "$1" $ODC $SHORT model.memory_bank.momentum=0.8 ;;
    odc4-crop0.3) row "$1" $ODC $SHORT \
        "$AUG.crop_ratio_range=(0.3,1.0)" ;;
    odc4-crop0.8) row "$1" $ODC $SHORT \
        "$AUG.crop_ratio_range=(0.8,1.0)" ;;
    odc4-jitter0.4) row "$1" $ODC $SHORT $AUG.brightness=0.4 \
        $AUG.contrast=0.4 ;;
    odc4-noflip) row "$1" $ODC $SHORT $AUG.flip_prob=0.0 ;;
    odc4-lr0.12) row "$1" $ODC $SHORT optim_wrapper.optimizer.lr=0.12 ;;
    odc4-lr0.03) row "$1" $ODC $SHORT optim_wrapper.optimizer.lr=0.03 ;;
    odc4-lr0.24) row "$1" $ODC $SHORT optim_wrapper.optimizer.lr=0.24 ;;
    odc4-lr0.12-recluster-pca) row "$1" $ODC $SHORT \
        optim_wrapper.optimizer.lr=0.12 $RECLUSTER_PCA ;;
    # DeepCluster's best LR with the whitened re-clustering every epoch
    odc4-lr0.24-recluster-pca) row "$1" $ODC $SHORT \
        optim_wrapper.optimizer.lr=0.24 $RECLUSTER_PCA ;;
    # with the re-clustering: more weight to the new feature in the memory
    # (its untrained start fades faster before each k-means)
    odc4-lr0.12-recluster-pca-mom0.8) row "$1" $ODC $SHORT \
        optim_wrapper.optimizer.lr=0.12 $RECLUSTER_PCA \
        model.memory_bank.momentum=0.8 ;;
    odc4-lr0.12-recluster-pca-mom1.0) row "$1" $ODC $SHORT \
        optim_wrapper.optimizer.lr=0.12 $RECLUSTER_PCA \
        model.memory_bank.momentum=1.0 ;;
    odc4-reextract) row "$1" $ODC $SHORT $REEXTRACT ;;
    odc8-reextract) row "$1" $ODC $REEXTRACT ;;
    odc4-reextract-matched) row "$1" $ODC $SHORT $REEXTRACT_MATCHED ;;
    odc8-reextract-matched) row "$1" $ODC $REEXTRACT_MATCHED ;;
    # the matched re-fill with DeepCluster's neck: the memory holds and
    # re-clusters the pooled backbone features, the features scored
    odc8-gap-reextract-matched) row "$1" $ODC_GAP $REEXTRACT_MATCHED ;;
    # the matched re-fill after every 2nd epoch (ODC's online labels alone
    # in between): half the re-fills' time
    odc8-reextract-matched-every2) row "$1" $ODC $REEXTRACT_MATCHED \
        custom_hooks.0.interval=2 ;;
    # the matched re-fill at DeepCluster's LR (the unmatched re-fill
    # diverged at it: odc8-reextract-lr0.24)
    odc8-reextract-matched-lr0.24) row "$1" $ODC $REEXTRACT_MATCHED \
        optim_wrapper.optimizer.lr=0.24 ;;
    # with fresh labels every epoch, DeepCluster's LR
    odc8-reextract-lr0.24) row "$1" $ODC $REEXTRACT \
        optim_wrapper.optimizer.lr=0.24 ;;
    # the matched re-fill without re-weighting the loss by cluster size
    # (DeepCluster's config does not re-weight either)
    odc8-reextract-matched-noreweight) row "$1" $ODC $REEXTRACT_MATCHED \
        custom_hooks.1.reweight=False ;;
    # the matched re-fill with 50x the weight decay
    odc8-reextract-matched-wd5e-4) row "$1" $ODC $REEXTRACT_MATCHED \
        optim_wrapper.optimizer.weight_decay=5e-4 ;;
    # a signed embedding (no ReLU after the neck's last layer)
    odc4-lr0.12-signed) row "$1" $ODC $SHORT optim_wrapper.optimizer.lr=0.12 \
        model.neck.final_relu=False ;;
    odc4-noreweight) row "$1" $ODC $SHORT custom_hooks.1.reweight=False ;;
    odc4-minc100) row "$1" $ODC $SHORT model.memory_bank.min_cluster=100 ;;
    odc4-k20) row "$1" $ODC $SHORT model.head.num_classes=20 \
        model.memory_bank.num_classes=20 custom_hooks.0.clustering.k=20 ;;
    odc4-k50) row "$1" $ODC $SHORT model.head.num_classes=50 \
        model.memory_bank.num_classes=50 custom_hooks.0.clustering.k=50 ;;
    # the initial clustering on whitened PCA-64, as DeepCluster clusters
    odc4-initpca) row "$1" $ODC $SHORT custom_hooks.0.clustering.pca_dim=64 ;;
    odc4-centroids1) row "$1" $ODC $SHORT \
        custom_hooks.1.centroids_update_interval=1 ;;
    odc4-rwpow1) row "$1" $ODC $SHORT custom_hooks.1.reweight_pow=1.0 ;;
    # the cluster head at 4x the LR (its classes move; DeepCluster
    # re-initialises its head every epoch)
    odc4-headlr4) row "$1" $ODC $SHORT \
        optim_wrapper.paramwise_cfg.custom_keys.head.lr_mult=4.0 ;;
    odc4-neck512) row "$1" $ODC $SHORT model.neck.hid_channels=512 \
        model.neck.out_channels=256 model.head.in_channels=256 \
        model.memory_bank.feat_dim=256 ;;
    odc4-batch128) row "$1" $ODC $SHORT train_dataloader.batch_size=128 \
        optim_wrapper.optimizer.lr=0.03 ;;
    odc4-lr0.12-noreweight) row "$1" $ODC $SHORT \
        optim_wrapper.optimizer.lr=0.12 custom_hooks.1.reweight=False ;;
    odc4-wd5e-4) row "$1" $ODC $SHORT \
        optim_wrapper.optimizer.weight_decay=5e-4 ;;
    odc4-minc500) row "$1" $ODC $SHORT model.memory_bank.min_cluster=500 ;;
    odc4-stride2221) row "$1" $ODC $SHORT "model.backbone.strides=(2,2,2,1)" ;;
    odc4-centroid) row "$1" $ODC $SHORT $CENTROID ;;
    odc4-centroid-t0.05) row "$1" $ODC $SHORT $CENTROID \
        model.head.temperature=0.05 ;;
    odc4-centroid-t0.2) row "$1" $ODC $SHORT $CENTROID \
        model.head.temperature=0.2 ;;
    odc4-gap) row "$1" $ODC_GAP $SHORT ;;
    odc4-recluster) row "$1" $ODC $SHORT $ONE_CLUSTERING \
        custom_hooks.1.recluster_interval=1 ;;
    odc4-recluster-pca) row "$1" $ODC $SHORT $RECLUSTER_PCA ;;
    odc4-gap-recluster-pca) row "$1" $ODC_GAP $SHORT $RECLUSTER_PCA ;;
    odc8-recluster-pca) row "$1" $ODC $RECLUSTER_PCA ;;
    odc8-recluster) row "$1" $ODC $ONE_CLUSTERING \
        custom_hooks.1.recluster_interval=1 ;;
    odc8-base) row "$1" $ODC ;;
    # the 40-epoch config (LR 0.06) with the quickstart's re-clustering
    odc40-recluster-pca) row "$1" $ODC40 $RECLUSTER_PCA ;;
    # the 40-epoch config (LR 0.06) with the quickstart's matched re-fill
    odc40-reextract-matched) row "$1" $ODC40 $REEXTRACT_MATCHED ;;
    odc8-lr0.12-recluster-pca) row "$1" $ODC optim_wrapper.optimizer.lr=0.12 \
        $RECLUSTER_PCA ;;
    dc4-base) row "$1" $DC $SHORT ;;
    dc4-k10) row "$1" $DC $SHORT model.head.num_classes=10 \
        custom_hooks.0.clustering.k=10 ;;
    dc4-k100) row "$1" $DC $SHORT model.head.num_classes=100 \
        custom_hooks.0.clustering.k=100 ;;
    dc4-crop0.3) row "$1" $DC $SHORT \
        "$AUG.crop_ratio_range=(0.3,1.0)" ;;
    dc4-lr0.12) row "$1" $DC $SHORT optim_wrapper.optimizer.lr=0.12 ;;
    dc4-lr0.24) row "$1" $DC $SHORT optim_wrapper.optimizer.lr=0.24 ;;
    dc4-lr0.48) row "$1" $DC $SHORT optim_wrapper.optimizer.lr=0.48 ;;
    dc4-lr0.96) row "$1" $DC $SHORT optim_wrapper.optimizer.lr=0.96 ;;
    *) echo "study: unknown row $1" >&2; exit 2 ;;
    esac
}

ALL="odc4-base odc4-k10 odc4-k100 odc4-mom0.2 odc4-mom0.8 odc4-crop0.3
odc4-crop0.8 odc4-jitter0.4 odc4-noflip odc4-lr0.12 odc4-lr0.03 odc4-lr0.24
odc4-lr0.12-recluster-pca odc4-lr0.24-recluster-pca
odc4-lr0.12-recluster-pca-mom0.8 odc4-lr0.12-recluster-pca-mom1.0 odc4-reextract
odc4-lr0.12-signed
odc4-noreweight odc4-minc100 odc4-k20 odc4-k50 odc4-initpca
odc4-centroids1 odc4-rwpow1 odc4-headlr4 odc4-neck512 odc4-batch128
odc4-lr0.12-noreweight odc4-wd5e-4 odc4-minc500 odc4-stride2221
odc4-centroid odc4-centroid-t0.05 odc4-centroid-t0.2 odc4-gap
odc4-recluster odc4-recluster-pca odc4-gap-recluster-pca odc4-batchaug odc4-multicrop odc4-multicrop-mild
odc4-sobel odc4-sobel-nojitter
odc8-base odc8-recluster odc8-recluster-pca odc8-lr0.12-recluster-pca odc40-recluster-pca odc8-reextract
odc8-reextract-lr0.24 odc4-reextract-matched odc8-reextract-matched
odc8-gap-reextract-matched odc8-reextract-matched-every2
odc8-reextract-matched-lr0.24 odc8-reextract-matched-noreweight
odc8-reextract-matched-wd5e-4
odc40-reextract-matched dc4-base dc4-k10
dc4-k100 dc4-crop0.3 dc4-lr0.12 dc4-lr0.24 dc4-lr0.48 dc4-lr0.96 dc4-batchaug dc4-sobel"
rows=("$@")
[ "${rows[0]:-}" = all ] && rows=($ALL)
for name in "${rows[@]}"; do run_row "$name"; done
