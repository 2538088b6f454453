"""Feature extraction in dataset order, and BatchNorm calibration."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import mmodc  # noqa: F401
from mmodc.engine import extract_features, recompute_bn_statistics
from mmodc.registry import MODELS


@pytest.fixture
def model_and_loader(quickstart_cfg):
    cfg = copy.deepcopy(quickstart_cfg)
    cfg.model.memory_bank.update(length=300, num_classes=10, min_cluster=5)
    cfg.model.head.num_classes = 10
    # BatchNorm with running statistics, which the calibration sets
    cfg.model.backbone.norm_cfg = dict(type='BN')
    cfg.model.neck.norm_cfg = dict(type='BN1d', momentum=0.001, affine=False)
    cfg.model.neck.dropout = 0.
    torch.manual_seed(0)
    init_default_scope('mmodc')
    model = MODELS.build(cfg.model)
    loader_cfg = copy.deepcopy(cfg.custom_hooks[0].extract_dataloader)
    loader_cfg.update(batch_size=64, num_workers=0)
    loader_cfg.dataset.indices = 300
    return model, Runner.build_dataloader(loader_cfg)


def test_features_in_dataset_order(model_and_loader):
    model, loader = model_and_loader
    features = extract_features(model, loader, show_progress=False)
    assert features.shape == (300, 128) and model.training
    batch = loader.collate_fn([loader.dataset[i] for i in (7, 250)])
    model.eval()
    with torch.no_grad():
        direct = model(**model.data_preprocessor(batch, False))
    torch.testing.assert_close(features[[7, 250]], direct, atol=1e-5,
                               rtol=1e-4)


def train_and_eval_agreement(model, batch) -> float:
    data = model.data_preprocessor(batch, False)
    with torch.no_grad():
        model.eval()
        evaluated = model(**data)
        model.train()
        trained = model(**data)
    return float(F.cosine_similarity(evaluated, trained).mean())


def test_calibration_matches_eval_to_training_mode(model_and_loader):
    model, loader = model_and_loader
    batch = next(iter(loader))
    before = train_and_eval_agreement(model, batch)
    recompute_bn_statistics(model, loader, num_batches=5)
    after = train_and_eval_agreement(model, batch)
    assert before < 0.8 and after > 0.95, (before, after)
    momenta = {m.momentum for m in model.modules()
               if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)}
    assert None not in momenta  # restored
