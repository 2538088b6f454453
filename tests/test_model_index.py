"""The model index (``model-index.yml`` and the metafiles it imports), read
with ``modelindex`` as ``mim search`` and ``mim download`` read it: every
model points to its own existing config and to a collection with a README,
every config under ``configs/selfsup/`` is listed, and published weights
follow the ``<name>[_<date>]-<sha256[:8]>.pth`` naming of
``publish_model.py``.
"""
import re
from typing import List

import pytest
from modelindex.load_model_index import load
from modelindex.models.Model import Model
from modelindex.models.ModelIndex import ModelIndex
from tiny_setup import REPO_ROOT

SELFSUP_CONFIGS = REPO_ROOT / 'configs' / 'selfsup'


@pytest.fixture(scope='module')
def model_index() -> ModelIndex:
    """The repository's model index, imports resolved."""
    return load(str(REPO_ROOT / 'model-index.yml'))


@pytest.fixture(scope='module')
def models(model_index: ModelIndex) -> List[Model]:
    """Every model of the index."""
    return list(model_index.models)


def results_of(model: Model) -> list:
    """The model's results (``modelindex`` gives None for none)."""
    return list(model.results or [])


def test_index_imports_every_algorithm(models: List[Model]) -> None:
    collections = {model.in_collection for model in models}
    assert collections == {'ODC', 'DeepCluster', 'RotationPrediction', 'CODC'}


def test_config_exists_and_is_named_after_the_model(
        models: List[Model]) -> None:
    for model in models:
        config = REPO_ROOT / model.config
        assert config.is_file(), f'{model.name}: {model.config} is missing'
        assert config.suffix == '.py'
        assert model.name == config.stem, model.name


def test_names_unique(models: List[Model]) -> None:
    names = [model.name for model in models]
    assert len(names) == len(set(names))


def test_every_selfsup_config_listed(models: List[Model]) -> None:
    listed = {(REPO_ROOT / model.config).resolve() for model in models}
    configs = set(SELFSUP_CONFIGS.rglob('*.py'))
    assert configs, 'no config found under configs/selfsup'
    assert configs <= listed, sorted(map(str, configs - listed))


def test_weights_named_with_hash_prefix(models: List[Model]) -> None:
    """A published file is ``<model name>[_<YYYYMMDD>]-<8 hex>.pth`` (the
    DeepCluster file carries no date), so mim's download and MMEngine's
    hash check see the sha256 prefix of the right model's file."""
    published = [model for model in models if model.weights]
    assert published, 'no model with published weights'
    for model in published:
        file_name = model.weights.rsplit('/', 1)[-1]
        pattern = rf'{re.escape(model.name)}(_\d{{8}})?-[0-9a-f]{{8}}\.pth'
        assert re.fullmatch(pattern, file_name), model.weights
        assert model.weights.startswith('https://'), model.weights


def test_collections_exist_with_readme(model_index: ModelIndex,
                                       models: List[Model]) -> None:
    collections = {c.name: c for c in model_index.collections}
    for model in models:
        assert model.in_collection in collections, model.name
    for collection in collections.values():
        assert (REPO_ROOT / collection.readme).is_file(), collection.readme


def test_results_are_numbers_on_named_datasets(models: List[Model]) -> None:
    """mim's ``--condition`` and ``--sort`` compare metric values: every
    one is a number, under a task and a dataset."""
    for model in models:
        for result in results_of(model):
            assert result.task and result.dataset, model.name
            assert result.metrics, (model.name, result.task)
            for key, value in result.metrics.items():
                assert isinstance(value, (int, float)), (model.name, key)


def test_released_results_marked_as_reported(models: List[Model]) -> None:
    """Results of the published ImageNet weights are the original
    release's, and say so; mmodc's own Fashion-MNIST models carry the
    numbers mmodc measured."""
    for model in models:
        reported = [
            '(reported by the original release)' in result.task
            for result in results_of(model)
        ]
        if model.weights:
            assert reported and all(reported), model.name
        else:
            assert not any(reported), model.name
    measured = {
        model.name
        for model in models if model.metadata.training_data == 'Fashion-MNIST'
        and results_of(model)
    }
    assert measured == {
        'odc_resnet18-w16_1xb256-steplr-8e_fashionmnist',
        'odc_resnet18-w16_1xb256-steplr-40e_fashionmnist',
        'deepcluster_resnet18-w16_1xb256-steplr-8e_fashionmnist'
    }
