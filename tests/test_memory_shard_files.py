"""Checkpoint files of a sharded ODC memory (one shard file per rank): any
rows are read back from them (re-sharding, the whole banks for the tools,
the publishing tool), after the run's folder moved too, and every damaged,
missing or mixed-up shard is an error that names the file."""
import importlib.util
import os
import os.path as osp
import shutil

import pytest
import torch
from conftest import REPO
from torch import nn

from mmodc.engine.checkpoints import IncompleteCheckpointError, check_complete
from mmodc.models import ODCMemory, ShardedODCMemory
from mmodc.models.utils import read_state_dict
from mmodc.models.utils.memory_shards import (
    load_memory_rows,
    read_memory_rows,
    save_memory_shards,
    shard_file,
)

N, DIM, K, WORLD = 98, 8, 6, 3


def model_with(memory: nn.Module) -> nn.Module:
    model = nn.Module()
    model.memory_bank = memory
    return model


def sharded_memory(rank: int, world_size: int) -> ShardedODCMemory:
    """A memory as rank ``rank`` of ``world_size`` builds it."""
    memory = ShardedODCMemory(N, DIM, num_classes=K, min_cluster=1)
    memory.rank, memory.world_size = rank, world_size
    rows = len(range(rank, N, world_size))
    memory.feature_bank = torch.zeros(rows, DIM)
    memory.label_bank = torch.zeros(rows, dtype=torch.long)
    return memory


@pytest.fixture
def whole_banks():
    generator = torch.Generator().manual_seed(0)
    return dict(feature_bank=torch.randn(N, DIM, generator=generator),
                label_bank=torch.randint(0, K, (N, ), generator=generator))


@pytest.fixture
def checkpoint(tmp_path, whole_banks) -> str:
    """A checkpoint saved by 3 ranks at iteration 7, as SafeCheckpointHook
    writes it: shard files first, then the checkpoint with the layout."""
    path = str(tmp_path / 'run' / 'iter_7.pth')
    os.makedirs(osp.dirname(path))
    for rank in range(WORLD):
        memory = sharded_memory(rank, WORLD)
        for name, bank in whole_banks.items():
            getattr(memory, name).copy_(bank[rank::WORLD])
        layout = save_memory_shards(model_with(memory), path, iteration=7)
    state = {f'memory_bank.{name}': value
             for name, value in sharded_memory(0, 1).state_dict().items()
             if name not in whole_banks}
    state['memory_bank.initialized'] = torch.tensor(True)
    torch.save(dict(state_dict=state, meta=dict(memory_shards=layout)), path)
    return path


def test_any_rows_come_back_from_the_shards(checkpoint, whole_banks,
                                            tmp_path):
    state = read_state_dict(checkpoint)  # what the tools read
    for name, bank in whole_banks.items():
        assert torch.equal(state[f'memory_bank.{name}'], bank)
    loaded = torch.load(checkpoint, weights_only=False)
    two = sharded_memory(1, 2)  # rank 1 of a 2-process resume
    load_memory_rows(model_with(two), loaded, checkpoint)
    two.load_state_dict({key[len('memory_bank.'):]: value
                         for key, value in loaded['state_dict'].items()})
    assert torch.equal(two.feature_bank, whole_banks['feature_bank'][1::2])
    assert torch.equal(two.label_bank, whole_banks['label_bank'][1::2])
    # the run's folder moved: the shards are found beside the checkpoint
    moved = str(tmp_path / 'moved')
    shutil.move(osp.dirname(checkpoint), moved)
    rows = read_memory_rows(loaded['meta']['memory_shards'],
                            osp.join(moved, 'iter_7.pth'), 'memory_bank.',
                            torch.tensor([97, 0, 50]))
    assert torch.equal(rows['label_bank'],
                       whole_banks['label_bank'][[97, 0, 50]])


def test_the_publishing_tool_reads_the_shards(checkpoint, whole_banks):
    spec = importlib.util.spec_from_file_location(
        'publish_model',
        osp.join(REPO, 'tools', 'model_converters', 'publish_model.py'))
    publish_model = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(publish_model)
    published = publish_model.load_training_checkpoint(checkpoint)
    assert 'memory_shards' not in published['meta']
    assert torch.equal(published['state_dict']['memory_bank.feature_bank'],
                       whole_banks['feature_bank'])


def test_a_checkpoint_without_its_banks_is_refused(checkpoint):
    loaded = torch.load(checkpoint, weights_only=False)
    memory = ODCMemory(N, DIM, num_classes=K, min_cluster=1)
    with pytest.raises(ValueError, match='without its banks'):
        model_with(memory).load_state_dict(loaded['state_dict'],
                                           strict=False)


def test_a_damaged_missing_or_foreign_shard_is_named(checkpoint):
    check_complete(checkpoint)
    folder = f'{checkpoint}.memory'
    shard = shard_file(folder, 2, WORLD)
    with open(shard, 'r+b') as file:
        file.truncate(os.path.getsize(shard) // 2)
    with pytest.raises(IncompleteCheckpointError, match='shard-2-of-3'):
        check_complete(checkpoint)
    os.remove(shard)
    with pytest.raises(IncompleteCheckpointError,
                       match='shard .*shard-2-of-3.pth is missing'):
        check_complete(checkpoint)
    with pytest.raises(FileNotFoundError, match='shard-2-of-3.pth is missing'):
        read_state_dict(checkpoint)
    state = torch.load(shard_file(folder, 0, WORLD))
    torch.save(dict(state, iteration=6), shard_file(folder, 2, WORLD))
    with pytest.raises(ValueError,
                       match='shard-2-of-3.pth does not belong to its'):
        read_state_dict(checkpoint)
    shutil.rmtree(folder)
    with pytest.raises(FileNotFoundError,
                       match='iter_7.pth.memory folder next to the'):
        read_state_dict(checkpoint)
