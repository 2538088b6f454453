# VOC07 SVM / low-shot SVM benchmark of a ResNet-50 (ODC, DeepCluster):
# feature1 (stem) .. feature5 (last stage), each average-pooled to about 9k
# dims by the reference pooling. Run with tools/benchmarks/svm_voc07.py.
_base_ = [
    '../../../_base_/models/resnet50_multihead.py',
    '../../../_base_/datasets/voc07_svm.py',
    '../../../_base_/default_runtime.py',
]

# features only: no classification head
model = dict(head=None)
