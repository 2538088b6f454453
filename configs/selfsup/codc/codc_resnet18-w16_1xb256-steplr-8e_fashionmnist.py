# Collaborative ODC on Fashion-MNIST, CPU-sized: two networks trained in
# one Runner (docs/codc.md), each the ODC quickstart's width-16 ResNet-18
# with its ODC neck and 30-cluster memory, on the quickstart's augmented
# batches of 256 images, schedule and hooks (DeepClusterHook fills both
# memories, ODCHook keeps both, FeatureMonitorHook scores both backbones).
# - clustering: ODC, and a head on the rotation network's memory labels;
# - rotation: rotation prediction (every image at 0, 90, 180, 270 degrees,
#   a 4-way head) and a head on the clustering network's memory labels.
# Without the two collaboration heads (codc-independent_...py) the
# networks train independently: docs/codc.md's "alone" rows.
_base_ = '../odc/odc_resnet18-w16_1xb256-steplr-8e_fashionmnist.py'

backbone = {{_base_.model.backbone}}
embedding_neck = {{_base_.model.neck}}
memory_bank = {{_base_.model.memory_bank}}
cluster_head = {{_base_.model.head}}
# the ODC reference's hooks: the CODC results were measured without the
# ODC quickstart's per-epoch re-clustering or re-fill of the memory
# (2026-12-07)
custom_hooks = {{_base_.reference_hooks}}

model = dict(
    _delete_=True,
    type='CODC',
    channels_last=True,  # faster on CPUs, as the ODC config
    data_preprocessor={{_base_.model.data_preprocessor}},
    members=dict(
        clustering=dict(
            backbone=backbone,
            neck=embedding_neck,
            memory_bank=memory_bank,
            # its own memory's labels (ODC) and the rotation network's
            heads=dict(clustering=cluster_head, rotation=cluster_head)),
        rotation=dict(
            backbone=backbone,
            neck=embedding_neck,
            memory_bank=memory_bank,
            # the clustering network's labels
            heads=dict(clustering=cluster_head),
            task=dict(
                type='rotation',
                neck=dict(type='GlobalAveragePooling'),
                head=dict(
                    type='ClusterClsHead', in_channels=128,
                    num_classes=4)))))

# the cluster heads without momentum (their classes change), as ODC's;
# the rotation head keeps it. LR 0.06, the ODC quickstart's until
# 2026-12-07: the CODC results in the README were measured with it (the
# recipe study's LR 0.12 for ODC was not tried with CODC)
optim_wrapper = dict(
    optimizer=dict(lr=0.06),
    paramwise_cfg=dict(
        custom_keys={
            '_delete_': True,
            '.heads.': dict(momentum=0.)
        }))
