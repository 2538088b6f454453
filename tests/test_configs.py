"""The ImageNet ODC config builds and trains on a tiny fake ImageNet."""
import os.path as osp

import numpy as np
from conftest import REPO, shrink_config
from mmengine.config import Config
from mmengine.runner import Runner
from PIL import Image

import mmodc  # noqa: F401

IN1K = osp.join(REPO, 'configs', 'selfsup', 'odc',
                'odc_resnet50_8xb64-steplr-440e_in1k.py')


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


def test_imagenet_config_reaches_training(tmp_path):
    make_fake_imagenet(tmp_path / 'imagenet')
    cfg = shrink_config(
        Config.fromfile(IN1K), num_images=12, num_clusters=2,
        batch_size=4, work_dir=str(tmp_path / 'work'))
    cluster_hook = cfg.custom_hooks[0]
    for loader in (cfg.train_dataloader, cluster_hook.extract_dataloader):
        loader.dataset.data_root = str(tmp_path / 'imagenet')
        loader.pin_memory = False
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=1)
    runner = Runner.from_cfg(cfg)
    runner.train()
    memory = runner.model.memory_bank
    assert runner.iter == 1
    assert memory.feature_bank.shape == (12, 256)
    assert bool(memory.initialized)
    assert runner.model.backbone.layer4[-1].conv3.out_channels == 2048
    assert runner.optim_wrapper.optimizer.param_groups[0]['lr'] == 0.06
