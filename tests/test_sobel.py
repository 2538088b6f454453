"""The Sobel front end of DeepCluster."""
import pytest
import torch
from mmengine.registry import init_default_scope

import mmodc  # noqa: F401
from mmodc.registry import MODELS

RESNET = dict(type='ResNet', depth=18, in_channels=2, stem_channels=8,
              base_channels=8, out_indices=(3, ))


@pytest.fixture
def sobel_resnet():
    init_default_scope('mmodc')
    return MODELS.build(dict(type='SobelBackbone', backbone=RESNET))


def test_edges_only_and_nothing_trainable_or_saved(sobel_resnet):
    backbone_only = MODELS.build(RESNET)
    assert sum(p.numel() for p in sobel_resnet.parameters()) == sum(
        p.numel() for p in backbone_only.parameters())
    assert not any('sobel' in key for key in sobel_resnet.state_dict())
    assert sobel_resnet.backbone.conv1.weight.shape[1] == 2
    # the state dict loads into a plain 2-channel ResNet and back
    backbone_only.load_state_dict({
        key[len('backbone.'):]: value
        for key, value in sobel_resnet.state_dict().items()})

    # a vertical edge answers in the horizontal-gradient channel only
    image = torch.zeros(1, 3, 8, 8)
    image[..., 4:] = 1.
    grey = image.mean(dim=1, keepdim=True)
    filtered = torch.nn.functional.conv2d(grey, sobel_resnet.sobel,
                                          padding=1)[0, :, 1:-1, 1:-1]
    assert filtered[1].abs().max() == 0
    assert filtered[0, :, 2:4].abs().min() == 4  # |1*1 + 2*1 + 1*1|
    assert filtered[0, :, :2].abs().max() == 0


def test_forward_and_colour_invariance(sobel_resnet):
    sobel_resnet.eval()
    image = torch.rand(2, 3, 32, 32)
    out = sobel_resnet(image)
    assert out[0].shape == (2, 64, 1, 1)
    # any colour with the same channel mean gives the same features
    shuffled = image[:, [2, 0, 1]]
    torch.testing.assert_close(sobel_resnet(shuffled)[0], out[0])


def test_wrong_input_channels_are_refused():
    init_default_scope('mmodc')
    with pytest.raises(ValueError, match='set backbone.in_channels=2'):
        MODELS.build(dict(type='SobelBackbone',
                          backbone=dict(RESNET, in_channels=3)))
