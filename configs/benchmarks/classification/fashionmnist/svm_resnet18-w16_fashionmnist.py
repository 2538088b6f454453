# The SVM benchmark (tools/benchmarks/svm_voc07.py) on Fashion-MNIST for the
# width-16 ResNet-18 of the quickstart: 60,000 training images (the low-shot
# draws come from them), 10,000 test images, one-vs-rest over the 10 classes.
# feature1 (stem, 16 x 28 x 28) .. feature5 (128 x 2 x 2) are average-pooled
# to 512-576 dims each, in the proportions of the ResNet-50 reference.
_base_ = [
    '../../../_base_/models/resnet18-w16_fashionmnist.py',
    '../../../_base_/datasets/fashionmnist_odc.py',
    '../../../_base_/default_runtime.py',
]

model = dict(
    type='ImageClassifier',
    backbone=dict(type='MultiLevelResNet_CIFAR', out_indices=[0, 1, 2, 3, 4]),
    neck=dict(
        type='MultiPooling',
        levels=[1, 2, 3, 4, 5],
        pools=[
            dict(output_size=6),  # 16 x 6 x 6 = 576
            dict(output_size=6),  # 16 x 6 x 6 = 576
            dict(output_size=4),  # 32 x 4 x 4 = 512
            dict(output_size=3),  # 64 x 3 x 3 = 576
            dict(output_size=2),  # 128 x 2 x 2 = 512
        ]))

train_dataloader = dict(_base_.extract_dataloader, _delete_=True)
test_dataloader = dict(
    _base_.extract_dataloader,
    dataset=dict(_base_.extract_dataloader.dataset, split='test'))
