"""Bad data during training: annotation lines that name no file, missing
and unreadable images stop a run with the file and line by default; with
``skip_bad_samples = True`` they are left out, logged once, listed each
epoch, and ODC keeps their memory rows (the real Runner in subprocesses,
real DataLoader workers)."""
import os.path as osp
import re
import subprocess
from functools import partial

import numpy as np
import pytest
import torch
from conftest import REPO, train_in_subprocess
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image
from tiny_setup import write_images
from torch.utils.data import DataLoader

from mmodc.datasets import (
    CheckedCustomDataset,
    SkipBadSamples,
    skip_bad_samples_collate,
)
from mmodc.datasets.transforms import UnreadableImageError
from mmodc.engine import apply_skip_bad_samples

ODC_FOLDER = osp.join(REPO, 'configs', 'selfsup', 'odc',
                      'odc_resnet18-w16_1xb256-steplr-8e_image-folder.py')
PIPELINE = [dict(type='CheckedLoadImageFromFile'), dict(type='PackInputs')]
BAD_FILES = {
    'flat/empty.png': 'empty file',
    'flat/text.jpg': 'not an image',
    'a/half.png': 'truncated',
}


def add_bad_files(folder) -> None:
    """An empty PNG, a text file named .jpg and a PNG cut in half."""
    (folder / 'flat' / 'empty.png').write_bytes(b'')
    (folder / 'flat' / 'text.jpg').write_text('not an image')
    pixels = np.random.default_rng(0).integers(0, 256, (64, 64, 3),
                                               dtype=np.uint8)
    Image.fromarray(pixels).save(folder / 'a' / 'whole.png')
    data = (folder / 'a' / 'whole.png').read_bytes()
    (folder / 'a' / 'half.png').write_bytes(data[:len(data) // 2])


@pytest.fixture(autouse=True)
def mmodc_scope():
    init_default_scope('mmodc')


@pytest.fixture(scope='module')
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp('bad_samples') / 'images'
    write_images(root, 60, seed=0)
    add_bad_files(root)
    return root


def test_annotation_lines_that_name_no_file_are_errors(tmp_path):
    (tmp_path / 'x.png').write_bytes(b'')
    lines = {'blank line': ('x.png 0\n\nx.png 1\n', 'line 2', 'a blank'),
             'no label': ('x.png 0\nx.png\n', 'line 2', 'no integer label'),
             'empty file': ('', None, 'lists no image')}
    for name, (text, line, problem) in lines.items():
        (tmp_path / 'ann.txt').write_text(text)
        with pytest.raises(ValueError) as info:
            CheckedCustomDataset(data_root=str(tmp_path), ann_file='ann.txt')
        message = str(info.value)
        assert 'ann.txt' in message and problem in message, name
        if line:
            assert f'ann.txt, {line}: ' in message, name


def test_a_missing_file_is_named_with_its_annotation_line(tmp_path):
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / 'a.png')
    (tmp_path / 'ann.txt').write_text('a.png\nmissing.png\n')
    dataset = CheckedCustomDataset(
        data_root=str(tmp_path), ann_file='ann.txt', with_label=False,
        pipeline=PIPELINE)
    assert dataset[0]['inputs'].shape == (3, 8, 8)
    with pytest.raises(UnreadableImageError) as info:
        dataset[1]
    message = str(info.value)
    assert f'{tmp_path}/missing.png ({tmp_path}/ann.txt, line 2): ' in message
    assert 'No such file' in message
    assert 'skip_bad_samples = True' in message


def test_dataloader_workers_skip_and_report_bad_samples(folder):
    """Two DataLoader workers: every readable sample comes once in a
    batch with its own index, every bad one is listed once with why."""
    dataset = SkipBadSamples(dict(
        type='CheckedCustomDataset', data_root=str(folder), with_label=False,
        pipeline=[*PIPELINE[:1], dict(type='Resize', scale=(16, 16)),
                  PIPELINE[1]]))
    loader = DataLoader(dataset, batch_size=8, num_workers=2,
                        collate_fn=partial(skip_bad_samples_collate))
    seen, skipped = [], {}
    for batch in loader:
        assert batch['inputs'].shape[1:] == (3, 16, 16)
        seen += [int(sample.sample_idx) for sample in batch['data_samples']]
        skipped.update({sample.index: sample
                        for sample in batch['skipped_samples']})
    assert len(seen) == len(set(seen)) == len(dataset) - 3
    assert sorted(seen + list(skipped)) == list(range(len(dataset)))
    for index, sample in skipped.items():
        relative = osp.relpath(sample.path, folder)
        assert BAD_FILES[relative] in sample.reason
        assert dataset.get_data_info(index)['img_path'] == sample.path


def test_the_config_key_wraps_every_dataloader():
    cfg = Config.fromfile(ODC_FOLDER)
    cfg.skip_bad_samples = True
    apply_skip_bad_samples(cfg)
    loaders = [cfg.train_dataloader, cfg.custom_hooks[0].extract_dataloader,
               cfg.custom_hooks[3].dataloader]
    for loader in loaders:
        assert loader.dataset.type == 'SkipBadSamples'
        assert loader.dataset.dataset.type == 'CheckedCustomDataset'
        assert loader.collate_fn == dict(
            type='mmodc.skip_bad_samples_collate', collate='default_collate')
    assert cfg.custom_hooks[-1]['type'] == 'SkippedSamplesHook'


def train(work_dir, folder, *options) -> subprocess.CompletedProcess:
    return train_in_subprocess(
        ODC_FOLDER, str(work_dir), '--cfg-options', f'image_folder={folder}',
        'train_cfg.max_epochs=2', 'train_dataloader.batch_size=16',
        'model.memory_bank.min_cluster=3',
        *[f'{key}.num_workers=1' for key in (
            'train_dataloader', 'custom_hooks.0.extract_dataloader',
            'custom_hooks.3.dataloader')],
        'custom_hooks.3.dataloader.batch_size=16', *options)


def test_odc_training_stops_at_a_bad_file_or_skips_it(folder, tmp_path):
    stopped = train(tmp_path / 'stop', folder)
    assert stopped.returncode != 0
    assert re.search(r'UnreadableImageError: \S+/(empty.png: empty file|'
                     r'text.jpg: not an image|half.png: truncated)',
                     stopped.stderr)

    work_dir = tmp_path / 'skip'
    result = train(work_dir, folder, 'skip_bad_samples=True')
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    assert 'Feature extraction: 3 unreadable samples skipped' in log
    for relative, reason in BAD_FILES.items():
        per_sample = re.findall(
            rf'Skipped sample \d+ \(skip_bad_samples\): \S+/{relative}: '
            rf'{reason}', log)
        assert len(per_sample) == 1, relative  # logged once in 2 epochs
    for epoch in (1, 2):
        assert (f'Epoch {epoch}: 3 unreadable samples left out of '
                'training') in log
    dataset = CheckedCustomDataset(data_root=str(folder), with_label=False)
    bad = [index for index in range(len(dataset)) if osp.relpath(
        dataset.get_data_info(index)['img_path'], folder) in BAD_FILES]
    banks = [torch.load(work_dir / f'epoch_{epoch}.pth', weights_only=False)
             ['state_dict']['memory_bank.feature_bank'] for epoch in (1, 2)]
    assert banks[0].shape[0] == len(dataset) == 64  # 4 whole batches
    torch.testing.assert_close(banks[0][bad], banks[1][bad], rtol=0, atol=0)
    good = [index for index in range(len(dataset)) if index not in bad]
    assert not torch.equal(banks[0][good], banks[1][good])
    # the bad rows hold the (normalised) mean feature: all three the same
    torch.testing.assert_close(banks[1][bad[0]], banks[1][bad[1]])


def test_an_empty_folder_is_an_error_that_names_it(tmp_path):
    (tmp_path / 'images' / 'sub').mkdir(parents=True)
    (tmp_path / 'images' / 'notes.txt').write_text('no images here')
    result = train(tmp_path / 'work', tmp_path / 'images')
    assert result.returncode != 0
    assert (f"Found 0 files in subfolders of: {{'img_path': "
            f"'{tmp_path / 'images'}") in result.stderr
