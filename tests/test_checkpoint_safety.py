"""Crash-safe checkpoints (SafeCheckpointHook) and resuming past a
truncated or empty newest checkpoint (resolve_resume_checkpoint), with the
real Runner of tools/train.py in processes of their own (forked from one
that has imported mmodc: tests/forked_train.py)."""
import os
import os.path as osp
import shutil
import subprocess
from collections import deque
from types import SimpleNamespace

import pytest
import torch
from conftest import REPO, shrink_config
from forked_train import ForkedTrain
from mmengine.config import Config

from mmodc.engine.checkpoints import (
    IncompleteCheckpointError,
    check_complete,
    newest_complete_checkpoint,
)
from mmodc.engine.hooks import SafeCheckpointHook

MEMORY = 'memory_bank.'


def run_train(forked: ForkedTrain, config: str, work_dir: str, *extra: str,
              check: bool = True) -> subprocess.CompletedProcess:
    result = forked.train(config, work_dir, *extra)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope='module')
def two_epochs(forked_train, quickstart_cfg, tmp_path_factory):
    """A tiny ODC run of 2 epochs, a checkpoint after each."""
    root = tmp_path_factory.mktemp('safe_checkpoints')
    cfg = shrink_config(quickstart_cfg, num_images=120, num_clusters=6,
                        batch_size=20, work_dir=str(root))
    config = str(root / 'odc_tiny.py')
    cfg.dump(config)
    work_dir = str(root / 'run')
    run_train(forked_train, config, work_dir, '--cfg-options',
              'train_cfg.max_epochs=2')
    return dict(config=config, work_dir=work_dir, root=root)


def test_saving_leaves_no_partial_files(two_epochs):
    work_dir = two_epochs['work_dir']
    names = sorted(os.listdir(work_dir))
    assert not [name for name in names if name.endswith('.tmp')]
    assert {'epoch_1.pth', 'epoch_2.pth', 'last_checkpoint'} <= set(names)
    with open(osp.join(work_dir, 'last_checkpoint')) as file:
        assert file.read() == osp.join(work_dir, 'epoch_2.pth')
    for epoch in (1, 2):
        check_complete(osp.join(work_dir, f'epoch_{epoch}.pth'))


def test_old_checkpoints_are_removed_beyond_max_keep(forked_train, two_epochs,
                                                     tmp_path):
    """Resumed with max_keep_ckpts=1 for a third epoch, only epoch_3.pth
    stays (the deque MMEngine bounds would forget ids without removing
    their files)."""
    work_dir = str(tmp_path / 'run')
    shutil.copytree(two_epochs['work_dir'], work_dir)
    run_train(forked_train, two_epochs['config'], work_dir, '--resume',
              '--cfg-options', 'train_cfg.max_epochs=3',
              'default_hooks.checkpoint.max_keep_ckpts=1')
    assert sorted(name for name in os.listdir(work_dir)
                  if name.endswith('.pth')) == ['epoch_3.pth']
    saved = torch.load(osp.join(work_dir, 'epoch_3.pth'), weights_only=False)
    assert saved['message_hub']['runtime_info']['keep_ckpt_ids'][-1] == 3


@pytest.mark.parametrize('damage', ['truncated', 'empty'])
def test_resume_skips_an_incomplete_newest_checkpoint(forked_train, two_epochs,
                                                      tmp_path, damage):
    """The newest checkpoint cut in half (a crash while saving) or empty:
    --resume goes on from epoch 1, says which file it skipped, and ends
    in the same state as the uninterrupted run."""
    work_dir = str(tmp_path / 'run')
    shutil.copytree(two_epochs['work_dir'], work_dir)
    newest = osp.join(work_dir, 'epoch_2.pth')
    with open(osp.join(work_dir, 'last_checkpoint'), 'w') as file:
        file.write(newest)
    size = osp.getsize(newest) // 2 if damage == 'truncated' else 0
    with open(newest, 'r+b') as file:
        file.truncate(size)
    result = run_train(forked_train, two_epochs['config'], work_dir,
                       '--resume', '--cfg-options', 'train_cfg.max_epochs=2')
    log = result.stdout + result.stderr
    reason = 'truncated or not a torch checkpoint' if size else 'empty file'
    assert f'resume: skipped checkpoint {newest}: {reason}' in log
    assert (f'going on from {osp.join(work_dir, "epoch_1.pth")}, the '
            'newest complete checkpoint') in log
    resumed = torch.load(newest, weights_only=False)
    expected = torch.load(osp.join(two_epochs['work_dir'], 'epoch_2.pth'),
                          weights_only=False)
    assert resumed['meta']['iter'] == expected['meta']['iter'] == 12
    state, reference = resumed['state_dict'], expected['state_dict']
    assert torch.equal(state[MEMORY + 'label_bank'],
                       reference[MEMORY + 'label_bank'])
    torch.testing.assert_close(state[MEMORY + 'feature_bank'],
                               reference[MEMORY + 'feature_bank'],
                               atol=1e-6, rtol=0)


def test_resume_from_a_bad_path_names_it(forked_train, two_epochs, tmp_path):
    bad = tmp_path / 'half.pth'
    data = open(osp.join(two_epochs['work_dir'], 'epoch_1.pth'),
                'rb').read()
    bad.write_bytes(data[:len(data) // 3])
    for path, reason in ((bad, 'truncated or not a torch checkpoint'),
                         (tmp_path / 'missing.pth', 'no such file')):
        result = run_train(forked_train, two_epochs['config'],
                           str(tmp_path / 'run'), '--resume', str(path),
                           check=False)
        assert result.returncode != 0
        assert f'checkpoint {path}: {reason}' in result.stderr


DEEPCLUSTER = osp.join(REPO, 'configs', 'selfsup', 'deepcluster',
                       'deepcluster_resnet18-w16_1xb256-steplr-8e_'
                       'fashionmnist.py')


def narrower_features(cfg):
    cfg.model.neck.out_channels = cfg.model.memory_bank.feat_dim = 64
    cfg.model.head.in_channels = 64


INCOMPATIBLE = {
    'other K': (dict(num_clusters=8), [
        'model.memory_bank.num_classes: 6 in the checkpoint, 8 in this run',
        'model.head.num_classes: 6 in the checkpoint, 8 in this run']),
    'other feature dim': (dict(tweak=narrower_features), [
        'model.memory_bank.feat_dim: 128 in the checkpoint, 64 in this run',
        'model.head.in_channels: 128 in the checkpoint, 64 in this run']),
    'other dataset length': (dict(num_images=100), [
        'model.memory_bank.length: 120 in the checkpoint, 100 in this run']),
    'other algorithm': (dict(config=DEEPCLUSTER), [
        'model.type: ODC in the checkpoint, DeepCluster in this run']),
}


@pytest.mark.parametrize('change', INCOMPATIBLE)
def test_resume_refuses_a_checkpoint_of_an_incompatible_run(
        forked_train, two_epochs, tmp_path, quickstart_cfg, change):
    """Resuming the ODC run (K 6, 120 images, 128-d features) with a config
    that changes one of them names the file, the field and both values."""
    settings, expected = INCOMPATIBLE[change]
    base = (Config.fromfile(settings['config']) if 'config' in settings
            else quickstart_cfg)
    cfg = shrink_config(base, num_images=settings.get('num_images', 120),
                        num_clusters=settings.get('num_clusters', 6),
                        batch_size=20, work_dir=str(tmp_path / 'run'))
    settings.get('tweak', lambda cfg: None)(cfg)
    config = str(tmp_path / 'changed.py')
    cfg.dump(config)
    checkpoint = osp.join(two_epochs['work_dir'], 'epoch_2.pth')
    result = run_train(forked_train, config, str(tmp_path / 'run'), '--resume',
                       checkpoint, check=False)
    assert result.returncode != 0
    assert (f'cannot resume from {checkpoint}: it was saved by an '
            'incompatible run') in result.stderr, result.stderr[-2000:]
    for line in expected:
        assert line in result.stderr, result.stderr[-2000:]
    assert 'start a new run in another --work-dir' in result.stderr


def test_check_complete_finds_damage_inside(tmp_path):
    path = tmp_path / 'state.pth'
    torch.save(dict(bank=torch.arange(100000.)), path)
    check_complete(str(path))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the tensor data
    path.write_bytes(bytes(data))
    with pytest.raises(IncompleteCheckpointError, match='bad CRC'):
        check_complete(str(path))
    assert newest_complete_checkpoint(str(tmp_path / 'none')) == (None, [])


class FailingSaveRunner(SimpleNamespace):
    """What SafeCheckpointHook calls on a runner; saving writes half a file
    and then dies, as a process killed while saving would."""

    def save_checkpoint(self, out_dir, filename, *args, **kwargs):
        with open(osp.join(out_dir, filename), 'wb') as file:
            file.write(b'PK\x03\x04 half a checkpoint')
        raise KeyboardInterrupt('killed while saving')


def test_a_crash_while_saving_keeps_the_older_checkpoints(tmp_path):
    """With max_keep_ckpts=2 and epochs 1 and 2 kept, dying while saving
    epoch 3 leaves both, the pointer on epoch 2, and no file named
    epoch_3.pth (MMEngine's hook removes epoch 1 before saving)."""
    for epoch in (1, 2):
        torch.save(dict(epoch=epoch), tmp_path / f'epoch_{epoch}.pth')
    pointer = tmp_path / 'last_checkpoint'
    pointer.write_text(str(tmp_path / 'epoch_2.pth'))
    hook = SafeCheckpointHook(interval=1, max_keep_ckpts=2)
    hook.out_dir = str(tmp_path)
    hook.filename_tmpl = 'epoch_{}.pth'
    hook.keep_ckpt_ids = deque([1, 2])
    runner = FailingSaveRunner(
        work_dir=str(tmp_path), model=torch.nn.Linear(1, 1), iter=30,
        message_hub=SimpleNamespace(update_info=lambda *args: None))
    with pytest.raises(KeyboardInterrupt):
        hook._save_checkpoint_with_step(runner, 3, {})
    assert (tmp_path / 'epoch_1.pth').is_file()
    assert not (tmp_path / 'epoch_3.pth').exists()
    assert pointer.read_text() == str(tmp_path / 'epoch_2.pth')
    assert newest_complete_checkpoint(str(tmp_path))[0] == str(
        tmp_path / 'epoch_2.pth')
