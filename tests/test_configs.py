"""The ImageNet configs build and train on a tiny fake ImageNet."""
import os.path as osp

import numpy as np
import pytest
from conftest import REPO, shrink_config, train_set_cfg
from mmengine.config import Config
from mmengine.runner import Runner
from PIL import Image

import mmodc  # noqa: F401

IN1K = osp.join(REPO, 'configs', 'selfsup', 'odc',
                'odc_resnet50_8xb64-steplr-440e_in1k.py')
ROTATION_IN1K = osp.join(REPO, 'configs', 'selfsup', 'rotation_pred',
                         'rotation-pred_resnet50_8xb16-steplr-70e_in1k.py')
CODC_IN1K = osp.join(REPO, 'configs', 'selfsup', 'codc',
                     '{}_resnet50_8xb64-steplr-440e_in1k.py')
DEEPCLUSTER_IN1K = osp.join(REPO, 'configs', 'selfsup', 'deepcluster',
                            '{}_resnet50_8xb64-steplr-200e_in1k.py')


def make_fake_imagenet(root, classes: int = 2, per_class: int = 6) -> None:
    """ImageNet layout: train/<wnid>/<name>.JPEG and meta/train.txt."""
    rng = np.random.default_rng(0)
    lines = []
    for label in range(classes):
        wnid = f'n{label:08d}'
        (root / 'train' / wnid).mkdir(parents=True)
        for index in range(per_class):
            name = f'{wnid}/{wnid}_{index}.JPEG'
            pixels = rng.integers(0, 255, (80, 96, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / 'train' / name, 'JPEG')
            lines.append(f'{name} {label}\n')
    (root / 'meta').mkdir()
    (root / 'meta' / 'train.txt').write_text(''.join(lines))


def fake_imagenet_runner(config: str, tmp_path) -> Runner:
    """The config on a 12-image fake ImageNet, 2 clusters, 1 iteration."""
    make_fake_imagenet(tmp_path / 'imagenet')
    cfg = shrink_config(
        Config.fromfile(config), num_images=12, num_clusters=2,
        batch_size=4, work_dir=str(tmp_path / 'work'))
    cluster_hook = cfg.custom_hooks[0]
    cluster_hook.clustering.pca_dim = min(cluster_hook.clustering.pca_dim, 8)
    for dataset in (train_set_cfg(cfg),
                    cluster_hook.extract_dataloader.dataset):
        dataset.data_root = str(tmp_path / 'imagenet')
    for loader in (cfg.train_dataloader, cluster_hook.extract_dataloader):
        loader.pin_memory = False
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=1)
    return Runner.from_cfg(cfg)


def test_imagenet_config_reaches_training(tmp_path):
    runner = fake_imagenet_runner(IN1K, tmp_path)
    runner.train()
    memory = runner.model.memory_bank
    assert runner.iter == 1
    assert memory.feature_bank.shape == (12, 256)
    assert bool(memory.initialized)
    assert runner.model.backbone.layer4[-1].conv3.out_channels == 2048
    assert runner.optim_wrapper.optimizer.param_groups[0]['lr'] == 0.06


@pytest.mark.parametrize('variant', ['deepcluster', 'deepcluster-sobel'])
def test_deepcluster_imagenet_configs_reach_training(variant, tmp_path):
    config = DEEPCLUSTER_IN1K.format(variant)
    reference = Config.fromfile(config)
    hook = reference.custom_hooks[0]
    assert (hook.clustering.k, hook.clustering.pca_dim) == (10000, 256)
    assert hook.unif_sampling and not hook.reweight and hook.interval == 1
    assert reference.train_cfg.max_epochs == 200
    runner = fake_imagenet_runner(config, tmp_path)
    runner.train()
    assert runner.iter == 1
    assert runner.optim_wrapper.optimizer.param_groups[0]['lr'] == 0.1
    labels = np.load(tmp_path / 'work' / 'cluster_epoch_0.npy')
    np.testing.assert_array_equal(
        runner.train_dataloader.dataset.labels.numpy(), labels)
    backbone = runner.model.backbone
    if variant == 'deepcluster-sobel':
        assert backbone.backbone.conv1.in_channels == 2
        assert not any('sobel' in key for key in runner.model.state_dict())
    else:
        assert backbone.conv1.in_channels == 3


def test_rotation_imagenet_config_reaches_training(tmp_path):
    """The reference RotNet settings, one iteration on a fake ImageNet
    (4 images x 4 rotations instead of 16 x 4) through a ResNet-50 with a
    4-way head."""
    make_fake_imagenet(tmp_path / 'imagenet', per_class=2)
    cfg = Config.fromfile(ROTATION_IN1K)
    assert cfg.train_cfg.max_epochs == 70
    assert cfg.param_scheduler[1].milestones == [30, 50]
    cfg.work_dir = str(tmp_path / 'work')
    assert cfg.train_dataloader.batch_size == 16
    cfg.train_dataloader.update(batch_size=4, num_workers=0,
                                persistent_workers=False, pin_memory=False)
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'imagenet')
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=1)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 1
    assert runner.model.head.fc_cls.weight.shape == (4, 2048)
    # 5 warm-up epochs (of 1 iteration here) from 0.1 x 0.2: a quarter of
    # the way after the first
    assert runner.optim_wrapper.optimizer.param_groups[0]['lr'] == \
        pytest.approx(0.2 * (0.1 + 0.9 / 4))
    assert runner.message_hub.get_scalar('train/rotation_accuracy') \
        is not None


def test_codc_imagenet_configs_reach_training(tmp_path):
    """The 3-model config (the 2-model one and the mixup classification
    network) trains one iteration on a fake ImageNet: every ResNet-50 with
    its memory filled and heads on the other members' memories. The
    2-model config has the first two members as they are."""
    runner = fake_imagenet_runner(CODC_IN1K.format('codc-3models'),
                                  tmp_path)
    runner.train()
    assert runner.iter == 1
    model = runner.model
    members = ['clustering', 'rotation', 'classification']
    assert list(model.members) == members
    for name, member in model.members.items():
        assert member.memory_bank.feature_bank.shape == (12, 256)
        assert bool(member.memory_bank.initialized)
        assert member.backbone.layer4[-1].conv3.out_channels == 2048
        others = set(members) - {name}
        assert others <= set(member.heads) | {member.task.get('labels')}
    losses = {key for key in runner.message_hub.log_scalars
              if 'loss_' in key}
    assert {'train/rotation.loss_rotation',
            'train/classification.loss_mixup'} <= losses
    two = Config.fromfile(CODC_IN1K.format('codc')).model.members
    assert list(two) == members[:2]
    assert list(two.clustering.heads) == ['clustering', 'rotation']
    assert list(two.rotation.heads) == ['clustering']
    assert two.rotation.task.type == 'rotation'


def test_model_index_lists_existing_configs_under_their_names():
    import yaml

    def load(path: str) -> dict:
        with open(osp.join(REPO, path)) as file:
            return yaml.safe_load(file)

    names = set()
    for metafile in load('model-index.yml')['Import']:
        meta = load(metafile)
        collections = {c['Name'] for c in meta['Collections']}
        for model in meta['Models']:
            assert osp.isfile(osp.join(REPO, model['Config'])), model['Name']
            assert osp.basename(model['Config']) == model['Name'] + '.py'
            assert model['In Collection'] in collections
            names.add(model['Name'])
    assert {
        'odc_resnet50_8xb64-steplr-440e_in1k',
        'deepcluster-sobel_resnet50_8xb64-steplr-200e_in1k',
        'deepcluster_resnet50_8xb64-steplr-200e_in1k',
    } <= names
