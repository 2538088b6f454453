"""A run killed with SIGKILL at 20 moments (during iterations and while a
checkpoint is saved), resumed each time, ends exactly as an uninterrupted
run: the real Runner of tools/train.py in processes of their own
(tests/kill_hook.py kills them), forked from one that has imported mmodc
(tests/forked_train.py: 22 runs without 22 start-ups)."""
import os
import os.path as osp
import random
import subprocess

import numpy as np
import pytest
import torch
from conftest import shrink_config, with_test_hook
from forked_train import ForkedTrain

# they start training processes (-m "not slow" leaves them out)
pytestmark = pytest.mark.slow

EPOCHS = 3
ITERS_PER_EPOCH = 6  # 120 images, batches of 20
# 12 of the 48 moments: seed 10 draws every kind (asserted) and all 3 epochs
NUM_KILLS = 12
MEMORY = 'memory_bank.'


def timeline() -> list:
    """Every moment a kill can happen at, in the order a run meets them."""
    moments = []
    for epoch in range(1, EPOCHS + 1):
        for step in range((epoch - 1) * ITERS_PER_EPOCH,
                          epoch * ITERS_PER_EPOCH):
            moments += [f'before_iter:{step}', f'after_iter:{step}']
        moments += [f'saving:{epoch}:0.0', f'saving:{epoch}:0.5',
                    f'saved:{epoch}', f'pointed:{epoch}']
    return moments


def train(forked: ForkedTrain, config: str, work_dir: str, kill_at: str = '',
          *extra: str) -> subprocess.CompletedProcess:
    return forked.train(config, work_dir, *extra,
                        env=dict(MMODC_KILL_AT=kill_at))


@pytest.fixture(scope='module')
def tiny_config(quickstart_cfg, tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp('sigkill')
    cfg = shrink_config(quickstart_cfg, num_images=120, num_clusters=6,
                        batch_size=20, work_dir=str(root / 'unused'))
    with_test_hook(cfg, 'KillHook', 'kill_hook')
    cfg.default_hooks.checkpoint.max_keep_ckpts = 1
    cfg.train_cfg.max_epochs = EPOCHS
    config = str(root / 'odc_tiny_kill.py')
    cfg.dump(config)
    return config


def final_state(work_dir: str) -> dict:
    checkpoint = torch.load(osp.join(work_dir, f'epoch_{EPOCHS}.pth'),
                            weights_only=False)
    losses = checkpoint['message_hub']['log_scalars']['train/loss']
    return dict(
        state=checkpoint['state_dict'], losses=losses.data[0],
        files=sorted(name for name in os.listdir(work_dir)
                     if osp.isfile(osp.join(work_dir, name))
                     and not name.endswith('.log')))


def test_sigkill_at_any_moment_then_resume_ends_as_uninterrupted(
        forked_train, tiny_config, tmp_path):
    uninterrupted = str(tmp_path / 'uninterrupted')
    result = train(forked_train, tiny_config, uninterrupted)
    assert result.returncode == 0, result.stderr[-3000:]
    moments = timeline()
    kills = sorted(random.Random(10).sample(moments, NUM_KILLS),
                   key=moments.index)
    assert {kill.split(':')[0] for kill in kills} == {
        'before_iter', 'after_iter', 'saving', 'saved', 'pointed'}
    killed = str(tmp_path / 'killed')
    for kill in kills:
        result = train(forked_train, tiny_config, killed, kill, '--resume')
        assert result.returncode == -9, (kill, result.stderr[-3000:])
    result = train(forked_train, tiny_config, killed, '', '--resume')
    assert result.returncode == 0, result.stderr[-3000:]

    expected, resumed = final_state(uninterrupted), final_state(killed)
    assert resumed['files'] == expected['files']
    checkpoints = [name for name in expected['files']
                   if name.endswith(('.pth', '.tmp'))]
    assert checkpoints == [f'epoch_{EPOCHS}.pth']
    assert 'last_checkpoint' in expected['files']
    assert torch.equal(resumed['state'][MEMORY + 'label_bank'],
                       expected['state'][MEMORY + 'label_bank'])
    torch.testing.assert_close(resumed['state'][MEMORY + 'feature_bank'],
                               expected['state'][MEMORY + 'feature_bank'],
                               atol=1e-6, rtol=0)
    assert len(expected['losses']) == EPOCHS * ITERS_PER_EPOCH
    np.testing.assert_allclose(resumed['losses'], expected['losses'],
                               rtol=0, atol=1e-6)
