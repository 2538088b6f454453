# kNN benchmark data (tools/benchmarks/knn.py --dataset-config): the 60,000
# Fashion-MNIST training images are the reference set, its 10,000 test
# images the queries, both through the deterministic extraction dataloader
# of the ODC / DeepCluster configs (same data_root, batch size and pipeline).
_base_ = ['../../_base_/datasets/fashionmnist_odc.py']

train_dataloader = dict(_base_.extract_dataloader, _delete_=True)
val_dataloader = dict(
    _base_.extract_dataloader,
    dataset=dict(_base_.extract_dataloader.dataset, split='test'))
