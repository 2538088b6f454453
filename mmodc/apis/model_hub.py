"""The model zoo from Python: list the models, build one, load weights."""
import difflib
import fnmatch
import logging
import os.path as osp
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Union

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.model import BaseModel
from mmengine.registry import DefaultScope
from modelindex.load_model_index import load
from modelindex.models.Model import Model

from mmodc.models.utils import load_converted_checkpoint
from mmodc.registry import MODELS
from mmodc.utils import download_checkpoint

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def model_index_path() -> Path:
    """Where mmodc's ``model-index.yml`` is.

    An installed package has it in its ``.mim`` folder (next to the configs
    it names); a source checkout at the repository root.

    Returns:
        Path: The ``model-index.yml`` file.
    """
    candidates = (PACKAGE_ROOT / '.mim' / 'model-index.yml',
                  PACKAGE_ROOT.parent / 'model-index.yml')
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(
        'mmodc\'s model-index.yml is in none of '
        f'{", ".join(str(p) for p in candidates)}; reinstall mmodc '
        '(`pip install .` copies it into the package).')


@lru_cache(maxsize=None)
def _models_by_name() -> Dict[str, Model]:
    """The models of the index, by name (read once)."""
    index = load(str(model_index_path()))
    index.build_models_with_collections()
    return {model.name: model for model in index.models}


def list_models(pattern: Optional[str] = None,
                with_weights: bool = False) -> List[str]:
    """Names of the models in mmodc's model zoo.

    Args:
        pattern (str, optional): A shell-style wildcard the names must
            match, e.g. ``'odc_*'``. Defaults to all models.
        with_weights (bool): Only models with published weights. Defaults
            to False.

    Returns:
        list[str]: Sorted model names (the config names).

    Example:
        >>> list_models('*fashionmnist')
        ['deepcluster_resnet18-w16_1xb256-steplr-8e_fashionmnist',
         'odc_resnet18-w16_1xb256-steplr-8e_fashionmnist']
    """
    names = sorted(
        name for name, model in _models_by_name().items()
        if not with_weights or model.weights)
    return fnmatch.filter(names, pattern) if pattern else names


def get_model_info(name: str) -> Model:
    """The model-index entry of a model.

    Args:
        name (str): The model's name, see :func:`list_models`.

    Returns:
        modelindex.models.Model.Model: Its metadata, results, config and
        weights.
    """
    models = _models_by_name()
    if name not in models:
        close = difflib.get_close_matches(name, list(models), n=3)
        hint = f'did you mean {", ".join(close)}? ' if close else ''
        raise ValueError(f'mmodc has no model named {name!r}; {hint}'
                         'list_models() names them all.')
    return models[name]


def get_model(model: str,
              pretrained: Union[bool, str] = False,
              device: Union[str, torch.device, None] = None,
              cache_dir: Optional[str] = None,
              **kwargs) -> BaseModel:
    """Build a model of the zoo by name, optionally with its weights.

    Args:
        model (str): A name from :func:`list_models`, or a config file.
        pretrained (bool | str): True for the model's published weights
            (downloaded once to ``cache_dir`` and verified), or the path
            or URL of a checkpoint. Checkpoints in the original releases'
            layouts (a full MMSelfSup 0.x ODC checkpoint, backbone-only
            files) are converted on the fly. Defaults to False: the
            initial weights.
        device (str | torch.device, optional): Where to put the model.
            Defaults to the CPU.
        cache_dir (str, optional): Download directory. Defaults to torch
            hub's checkpoint cache.
        **kwargs: Overrides of the config's ``model`` dict, e.g.
            ``memory_bank=dict(length=1000)``.

    Returns:
        BaseModel: The model in eval mode; ``model.cfg`` is its config.

    Example:
        >>> model = get_model('odc_resnet50_8xb64-steplr-440e_in1k',
        ...                   pretrained=True)
    """
    if model.endswith('.py'):
        config, checkpoint = model, None
    else:
        info = get_model_info(model)
        config = str(model_index_path().parent / info.config)
        checkpoint = info.weights
    if pretrained is True and not checkpoint:
        raise ValueError(
            f'{model} has no published weights; train it (see its config '
            f'{config}) and pass pretrained=<path of the checkpoint>.')
    if pretrained is not True:
        checkpoint = pretrained or None
    return init_model(config, checkpoint, device, cache_dir,
                      dict(model=kwargs) if kwargs else None)


def init_model(config: Union[str, Config],
               checkpoint: Optional[str] = None,
               device: Union[str, torch.device, None] = None,
               cache_dir: Optional[str] = None,
               cfg_options: Optional[dict] = None) -> BaseModel:
    """Build the model of a config and load a checkpoint into it.

    Args:
        config (str | Config): Config file or object.
        checkpoint (str, optional): Path or URL of the checkpoint (any
            layout :func:`mmodc.models.utils.convert_checkpoint` reads;
            URLs are downloaded and verified by
            :func:`mmodc.utils.download_checkpoint` and may hold tensors
            and plain containers only). Defaults to the initial weights.
        device (str | torch.device, optional): Where to put the model.
            Defaults to the CPU.
        cache_dir (str, optional): Download directory for a URL. Defaults
            to torch hub's checkpoint cache.
        cfg_options (dict, optional): Overrides merged into the config.

    Returns:
        BaseModel: The model in eval mode; ``model.cfg`` is its config.
    """
    cfg = config.copy() if isinstance(config, Config) else Config.fromfile(
        config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    # fetch first: a download that fails should not wait for the model
    filename = (None if checkpoint is None else local_checkpoint(
        checkpoint, cache_dir))
    model = build_initialised_model(cfg.model)
    if filename is not None:
        load_converted_checkpoint(
            model, filename, weights_only=is_url(checkpoint))
    model.cfg = cfg
    return model.to(device or 'cpu').eval()


def build_initialised_model(model_cfg: dict) -> BaseModel:
    """Build a model and apply its ``init_cfg``s, without the per-parameter
    initialisation report MMEngine prints when no log file is open.

    Args:
        model_cfg (dict): The config's ``model``.

    Returns:
        BaseModel: The initialised model.
    """
    with DefaultScope.overwrite_default_scope('mmodc'):
        model = MODELS.build(model_cfg)
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)
    return model


def is_url(checkpoint: str) -> bool:
    """Whether a checkpoint is given by an ``http(s)://`` URL."""
    return checkpoint.startswith(('http://', 'https://'))


def local_checkpoint(checkpoint: str,
                     cache_dir: Optional[str] = None) -> str:
    """The local file of a checkpoint path or URL (downloaded if a URL).

    Args:
        checkpoint (str): A path, or an ``http(s)://`` URL whose file name
            carries its sha256 prefix.
        cache_dir (str, optional): Download directory. Defaults to torch
            hub's checkpoint cache.

    Returns:
        str: The path of the local file.
    """
    if is_url(checkpoint):
        return download_checkpoint(checkpoint, cache_dir)
    path = osp.expanduser(checkpoint)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'checkpoint {checkpoint} not found; give the path of a '
            'checkpoint file or the URL of a published one.')
    return path
