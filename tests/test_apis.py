"""mmodc.apis: list the zoo, build models by name with weights from a file
or a (local) URL in the published layouts, and the inference helper."""
import hashlib
import pickle
from pathlib import Path
from typing import Dict

import mmcv
import numpy as np
import pytest
import torch
from conftest import FASHION_MNIST, REPO
from http_files import serve_files
from mmengine.dataset import default_collate
from mmpretrain.datasets.transforms import PackInputs
from mmpretrain.models.backbones import ResNet
from tiny_setup import read_model_index, write_index

from mmodc.apis import (
    get_model,
    get_model_info,
    inference_model,
    init_model,
    list_models,
    model_hub,
)
from mmodc.datasets import FashionMNIST

pytestmark = pytest.mark.usefixtures('single_thread')

FASHION_ODC = 'odc_resnet18-w16_1xb256-steplr-8e_fashionmnist'
IN1K_ODC = 'odc_resnet50_8xb64-steplr-440e_in1k'
IN1K_SOBEL = 'deepcluster-sobel_resnet50_8xb64-steplr-200e_in1k'
# the ImageNet memory bank (1.3 GB) is not needed to test loading
SMALL_MEMORY = dict(memory_bank=dict(length=10000, min_cluster=1))


def randomised(model: torch.nn.Module, seed: int) -> Dict[str, torch.Tensor]:
    """A state dict of the model's keys and shapes with random values."""
    generator = torch.Generator().manual_seed(seed)
    return {
        key: (torch.randn(value.shape, generator=generator)
              if value.is_floating_point() else value.clone())
        for key, value in model.state_dict().items()
    }


def published_name(path: Path, stem: str) -> Path:
    """Rename a file to ``<stem>-<sha256[:8]>.pth`` as releases name them."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return path.rename(path.with_name(f'{stem}-{digest[:8]}.pth'))


@pytest.fixture(scope='module')
def fashion_images() -> list:
    """Six Fashion-MNIST test images (28 x 28 uint8 arrays)."""
    dataset = FashionMNIST(data_root=FASHION_MNIST, split='test',
                           indices=6, pipeline=[])
    return [dataset[i]['img'] for i in range(6)]


@pytest.fixture(scope='module')
def in1k_odc():
    """The ImageNet ODC model (small memory), its initial weights."""
    return get_model(IN1K_ODC, **SMALL_MEMORY)


def test_list_models_is_the_model_index() -> None:
    expected = read_model_index(Path(REPO))
    assert list_models() == sorted(expected)
    with_weights = {name for name, m in expected.items() if 'Weights' in m}
    assert set(list_models(with_weights=True)) == with_weights
    assert IN1K_ODC in with_weights and FASHION_ODC not in with_weights
    assert list_models('*fashionmnist') == sorted(
        name for name in expected if name.endswith('fashionmnist'))
    assert get_model_info(IN1K_ODC).weights == expected[IN1K_ODC]['Weights']


def test_unknown_model_names_the_close_ones() -> None:
    with pytest.raises(ValueError, match=f'did you mean {IN1K_ODC}'):
        get_model('odc_resnet50_8xb64-steplr-400e_in1k')


def test_no_published_weights_is_an_error() -> None:
    with pytest.raises(ValueError, match='has no published weights'):
        get_model(FASHION_ODC, pretrained=True)


def test_get_model_builds_the_config_in_eval_mode() -> None:
    model = get_model(FASHION_ODC, memory_bank=dict(length=1000))
    assert type(model).__name__ == 'ODC' and not model.training
    assert model.memory_bank.feature_bank.shape == (1000, 128)
    assert Path(model.cfg.filename).name == FASHION_ODC + '.py'


def test_pretrained_local_checkpoint(tmp_path: Path) -> None:
    """An mmodc checkpoint (memory included) loads key for key."""
    model = get_model(FASHION_ODC, memory_bank=dict(length=1000))
    state = randomised(model, seed=1)
    torch.save(dict(state_dict=state, meta=dict()), tmp_path / 'ckpt.pth')
    loaded = get_model(FASHION_ODC, pretrained=str(tmp_path / 'ckpt.pth'),
                       memory_bank=dict(length=1000))
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, state[key]), key
    with pytest.raises(FileNotFoundError, match='missing.pth not found'):
        get_model(FASHION_ODC, pretrained=str(tmp_path / 'missing.pth'))


def test_pretrained_true_downloads_the_published_layout(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in1k_odc) -> None:
    """pretrained=True: the index's URL (here served on 127.0.0.1) is
    downloaded to cache_dir, verified, and the MMSelfSup 0.x layout (no
    memory) loads into the model."""
    state = {
        key: value
        for key, value in randomised(in1k_odc, seed=2).items()
        if not key.startswith('memory_bank.')
    }
    torch.save(dict(state_dict=state, meta=dict()), tmp_path / 'odc.pth')
    served = published_name(tmp_path / 'odc.pth', IN1K_ODC + '_20220225')
    with serve_files({'/odc/' + served.name: served.read_bytes()}) as url:
        index = tmp_path / 'index' / 'model-index.yml'
        write_index(index, IN1K_ODC, url + '/odc/' + served.name)
        monkeypatch.setattr(model_hub, 'model_index_path', lambda: index)
        model_hub._models_by_name.cache_clear()
        try:
            model = get_model(IN1K_ODC, pretrained=True,
                              cache_dir=str(tmp_path / 'cache'),
                              **SMALL_MEMORY)
        finally:
            model_hub._models_by_name.cache_clear()
    assert (tmp_path / 'cache' / served.name).is_file()
    for key, value in state.items():
        assert torch.equal(model.state_dict()[key], value), key


def test_downloaded_checkpoints_hold_only_tensors(tmp_path: Path) -> None:
    """A file from a URL is unpickled with weights_only: an object in it
    is refused (it could run code); the same file by local path loads."""
    model = get_model(FASHION_ODC, memory_bank=dict(length=1000))
    state = randomised(model, seed=4)
    torch.save(dict(state_dict=state, meta=dict(work_dir=Path('w'))),
               tmp_path / 'ckpt.pth')
    served = published_name(tmp_path / 'ckpt.pth', 'odc_fashion')
    with serve_files({'/' + served.name: served.read_bytes()}) as url:
        with pytest.raises(pickle.UnpicklingError,
                           match='holds more than tensors'):
            get_model(FASHION_ODC, pretrained=f'{url}/{served.name}',
                      cache_dir=str(tmp_path / 'cache'),
                      memory_bank=dict(length=1000))
    cached = tmp_path / 'cache' / served.name
    loaded = get_model(FASHION_ODC, pretrained=str(cached),
                       memory_bank=dict(length=1000))
    assert torch.equal(loaded.head.fc_cls.weight, state['head.fc_cls.weight'])


def test_sobel_backbone_only_file_loads(tmp_path: Path) -> None:
    """The DeepCluster release: 2-channel ResNet-50 keys without prefix."""
    resnet = ResNet(depth=50, in_channels=2)
    state = randomised(resnet, seed=3)
    torch.save(dict(state_dict=state, author='OpenSelfSup'),
               tmp_path / 'deepcluster.pth')
    model = init_model(
        Path(REPO, 'configs/selfsup/deepcluster', IN1K_SOBEL + '.py'),
        checkpoint=str(tmp_path / 'deepcluster.pth'))
    loaded = model.backbone.backbone.state_dict()
    for key, value in state.items():
        assert torch.equal(loaded[key], value), key


def model_inputs(model, images) -> torch.Tensor:
    """The dataset route: Fashion-MNIST's extraction pipeline (arrays as
    the dataset gives them) and the data preprocessor."""
    samples = [PackInputs()(dict(img=img)) for img in images]
    return model.data_preprocessor(default_collate(samples), False)['inputs']


def test_embedding_of_arrays_and_files(tmp_path: Path,
                                       fashion_images: list) -> None:
    """Arrays and image files give the embedding of the dataset route,
    the cluster is the head's arg-max."""
    model = get_model(FASHION_ODC, memory_bank=dict(length=1000))
    result = inference_model(model, fashion_images)
    expected = model.extract_feat(model_inputs(model, fashion_images))
    torch.testing.assert_close(result['embedding'], expected)
    scores = model.head(expected).softmax(dim=1)
    assert torch.equal(result['cluster'], scores.argmax(dim=1))
    torch.testing.assert_close(result['cluster_score'],
                               scores.max(dim=1).values)
    # the same images as grey PNG files, and as BGR arrays
    files = []
    for i, img in enumerate(fashion_images):
        files.append(str(tmp_path / f'{i}.png'))
        mmcv.imwrite(img, files[-1])
    from_files = inference_model(model, files)
    torch.testing.assert_close(from_files['embedding'], expected)
    bgr = [mmcv.gray2bgr(img) for img in fashion_images]
    torch.testing.assert_close(
        inference_model(model, bgr)['embedding'], expected)


def test_one_image_embeds_as_in_a_batch(fashion_images: list) -> None:
    """The quickstart's BatchNorm layers keep running statistics: an
    image's embedding does not depend on the other images of the call."""
    model = get_model(FASHION_ODC, memory_bank=dict(length=1000))
    batch = inference_model(model, fashion_images)['embedding']
    for i, image in enumerate(fashion_images):
        alone = inference_model(model, image)['embedding']
        torch.testing.assert_close(alone[0], batch[i])


def test_batch_statistics_need_several_images(fashion_images: list) -> None:
    """A neck that normalises with batch statistics refuses one image."""
    model = get_model(
        FASHION_ODC,
        memory_bank=dict(length=1000),
        neck=dict(norm_cfg=dict(track_running_stats=False)))
    with pytest.raises(ValueError, match='pass several images together'):
        inference_model(model, fashion_images[0])


def test_levels_of_the_fashion_model(fashion_images: list) -> None:
    """feature1..5 equal the SVM benchmark model's features (its
    MultiLevelResNet_CIFAR and pools) with the same backbone weights."""
    model = get_model(FASHION_ODC, memory_bank=dict(length=1000))
    svm_config = Path(REPO, 'configs/benchmarks/classification/fashionmnist',
                      'svm_resnet18-w16_fashionmnist.py')
    benchmark = init_model(svm_config)
    benchmark.backbone.load_state_dict(model.backbone.state_dict())
    inputs = model_inputs(model, fashion_images)
    expected = benchmark.neck(benchmark.backbone(inputs))
    pools = benchmark.cfg.model.neck.pools
    result = inference_model(model, fashion_images, 'levels', pools=pools)
    assert list(result) == [f'feature{i}' for i in range(1, 6)]
    for level, feature in enumerate(expected, start=1):
        torch.testing.assert_close(result[f'feature{level}'],
                                   feature.flatten(1))
    default = inference_model(model, fashion_images, 'levels', levels=[2, 5])
    assert {k: v.shape[1] for k, v in default.items()} == dict(
        feature2=16, feature5=128)


def test_imagenet_models_from_an_image_file(tmp_path: Path,
                                            in1k_odc) -> None:
    """A JPEG of any size: short side 256, centre 224; the reference
    pooling of feature1..5 and the 256-d embedding of one image."""
    image = np.random.default_rng(0).integers(0, 256, (300, 420, 3),
                                              dtype=np.uint8)
    path = str(tmp_path / 'image.jpg')
    mmcv.imwrite(image, path)
    levels = inference_model(in1k_odc, path, 'levels')
    assert {k: v.shape for k, v in levels.items()} == {
        f'feature{i}': (1, dims)
        for i, dims in enumerate((9216, 9216, 8192, 9216, 8192), start=1)
    }
    result = inference_model(in1k_odc, [path])
    assert result['embedding'].shape == (1, 256)
    assert 0 <= int(result['cluster']) < 10000
    sobel = get_model(IN1K_SOBEL)
    assert inference_model(sobel, path, 'levels',
                           levels=[5])['feature5'].shape == (1, 8192)


def test_bad_images_are_named(tmp_path: Path, in1k_odc) -> None:
    with pytest.raises(FileNotFoundError, match='nothing.jpg not found'):
        inference_model(in1k_odc, str(tmp_path / 'nothing.jpg'))
    with pytest.raises(TypeError, match='got ndarray'):
        inference_model(in1k_odc, np.zeros((2, 2, 2, 2), np.uint8))
    with pytest.raises(ValueError, match="output='logits'"):
        inference_model(in1k_odc, np.zeros((8, 8, 3), np.uint8), 'logits')
