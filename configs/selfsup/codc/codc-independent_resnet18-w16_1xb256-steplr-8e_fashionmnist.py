# The networks of codc_resnet18-w16_1xb256-steplr-8e_fashionmnist.py
# without the collaboration: the clustering network learns only its own
# memory's labels (ODC) and the rotation network only the rotations (its
# memory is kept and monitored, but no head learns its labels). The same
# batches, augmentations, optimizer and schedule: the "alone" rows of
# docs/codc.md.
_base_ = './codc_resnet18-w16_1xb256-steplr-8e_fashionmnist.py'

model = dict(
    members=dict(
        clustering=dict(
            heads=dict(_delete_=True, clustering={{_base_.cluster_head}})),
        rotation=dict(heads=dict(_delete_=True))))
