"""channels_last=True: the same network in the channels-last memory format."""
import pytest
import torch
from conftest import QUICKSTART
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmodc.registry import MODELS


@pytest.mark.parametrize('algorithm', ['ODC', 'DeepCluster'])
def test_channels_last_model_embeds_as_the_default_one(algorithm):
    init_default_scope('mmodc')
    cfg = Config.fromfile(QUICKSTART).model
    if algorithm == 'DeepCluster':
        cfg.pop('memory_bank')
    cfg.type = algorithm
    models = {}
    for channels_last in (False, True):
        torch.manual_seed(0)
        models[channels_last] = MODELS.build(
            dict(cfg, channels_last=channels_last))
        models[channels_last].init_weights()
        models[channels_last].eval()
    conv = models[True].backbone.layer2[0].conv1.weight
    assert conv.is_contiguous(memory_format=torch.channels_last)
    assert not conv.is_contiguous()
    assert models[False].backbone.layer2[0].conv1.weight.is_contiguous()
    torch.testing.assert_close(models[True].state_dict(),
                               models[False].state_dict())
    images = torch.randn(16, 1, 28, 28)
    torch.testing.assert_close(models[True].extract_feat(images),
                               models[False].extract_feat(images),
                               atol=1e-5, rtol=1e-4)
