# Collaborative ODC on Fashion-MNIST with 3 networks (docs/codc.md), the
# CPU-sized counterpart of codc-3models_resnet50_8xb64-steplr-440e_in1k.py:
# the 2-model config plus a classification network trained with mixup on
# the clustering network's labels (lam x_i + (1 - lam) x_j scored against
# both labels, lam ~ Beta(1, 1)), with its own ODC neck and memory. Every
# network learns the cluster labels of the two others' memories.
_base_ = './codc_resnet18-w16_1xb256-steplr-8e_fashionmnist.py'

model = dict(
    members=dict(
        clustering=dict(
            heads=dict(classification={{_base_.cluster_head}})),
        rotation=dict(heads=dict(classification={{_base_.cluster_head}})),
        classification=dict(
            backbone={{_base_.backbone}},
            neck={{_base_.embedding_neck}},
            memory_bank={{_base_.memory_bank}},
            heads=dict(rotation={{_base_.cluster_head}}),
            task=dict(
                type='mixup',
                labels='clustering',
                alpha=1.0,
                neck=dict(type='GlobalAveragePooling'),
                head=dict(
                    type='ClusterClsHead',
                    in_channels=128,
                    num_classes={{_base_.cluster_head.num_classes}})))))
