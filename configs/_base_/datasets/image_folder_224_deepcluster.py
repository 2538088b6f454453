# A folder of images at ImageNet resolution for DeepCluster: the folder ODC
# settings, with the training set wrapped so that every sample carries its
# cluster label, and a sampler that can sample uniformly over the clusters
# (without replacement otherwise).
_base_ = './image_folder_224_odc.py'

train_dataloader = dict(
    sampler=dict(type='DeepClusterSampler', replace=False, shuffle=True),
    dataset=dict(
        _delete_=True,
        type='DeepClusterDataset',
        dataset=dict(
            type={{_base_.dataset_type}},
            data_root={{_base_.data_root}},
            with_label=False,
            pipeline={{_base_.train_pipeline}})))
