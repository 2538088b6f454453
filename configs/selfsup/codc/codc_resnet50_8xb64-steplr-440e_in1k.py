# Collaborative ODC, 2 models (docs/codc.md), ResNet-50, 8 GPUs x 64
# images, 440 epochs on ImageNet-1k: ODC's reference settings, data and
# hooks for both networks (the slides give no schedule for CODC).
# - clustering: ODC (neck 2048-512-256, 10,000-cluster memory) and a head
#   on the rotation network's memory labels;
# - rotation: rotation prediction (each image at 0, 90, 180, 270 degrees,
#   so 4 x 64 images per GPU through its backbone) with its own ODC neck
#   and 10,000-cluster memory, and a head on the clustering network's
#   labels.
# DeepClusterHook fills both memories, ODCHook keeps both. Two memories of
# 1,281,167 x 256 floats: 2.6 GB on every GPU.
_base_ = '../odc/odc_resnet50_8xb64-steplr-440e_in1k.py'

backbone = {{_base_.model.backbone}}
embedding_neck = {{_base_.model.neck}}
memory_bank = {{_base_.model.memory_bank}}
cluster_head = {{_base_.model.head}}

model = dict(
    _delete_=True,
    type='CODC',
    data_preprocessor={{_base_.model.data_preprocessor}},
    members=dict(
        clustering=dict(
            backbone=backbone,
            neck=embedding_neck,
            memory_bank=memory_bank,
            heads=dict(clustering=cluster_head, rotation=cluster_head)),
        rotation=dict(
            backbone=backbone,
            neck=embedding_neck,
            memory_bank=memory_bank,
            heads=dict(clustering=cluster_head),
            task=dict(
                type='rotation',
                neck=dict(type='GlobalAveragePooling'),
                head=dict(
                    type='ClusterClsHead', in_channels=2048,
                    num_classes=4)))))

# the cluster heads without momentum (their classes change), as ODC's;
# the rotation head keeps it
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            '_delete_': True,
            '.heads.': dict(momentum=0.)
        }))
