"""``Pretrained`` initialisation that refuses to go on without weights."""
import os.path as osp
from typing import Dict, Optional

import torch
import torch.nn as nn
from mmengine.model.weight_init import PretrainedInit, update_init_info
from mmengine.runner.checkpoint import _load_checkpoint, load_state_dict

from mmodc.registry import WEIGHT_INITIALIZERS
from .checkpoint_conversion import (
    CheckpointShapeError,
    convert_checkpoint,
    describe_mismatch,
    state_dict_of,
)

#: How the benchmark configs take the checkpoint to evaluate.
CHECKPOINT_HINT = ('pass the checkpoint to evaluate, e.g. `mim train mmodc '
                   '<config> --cfg-options '
                   'model.backbone.init_cfg.checkpoint=<path or URL>`')


@WEIGHT_INITIALIZERS.register_module(name='Pretrained')
class CheckedPretrainedInit(PretrainedInit):
    """MMEngine's ``Pretrained`` with clear errors, in the ``mmodc`` scope.

    MMEngine's initialiser fails with a ``TypeError`` deep in its checkpoint
    loader when ``checkpoint`` is None, and loads non-strictly: a checkpoint
    of another network (a Sobel one for an RGB backbone, the wrong prefix)
    leaves the unmatched weights random with only a log warning. A linear
    evaluation of random weights is worthless, so here a missing checkpoint
    (None, or no such local file) is an error naming the fix, and
    ``strict=True`` makes every mismatched key or shape an error too, on
    every rank. Registered under MMEngine's
    name so that ``BaseModule`` still loads it after the other initialisers.

    Args:
        checkpoint (str, optional): Path or URL of the checkpoint.
        prefix (str, optional): The prefix of the sub-module's keys in the
            checkpoint, e.g. ``'backbone.'``. Defaults to the whole model.
        map_location (str): Device the tensors are mapped to. Defaults to
            'cpu'.
        strict (bool): Whether the checkpoint must hold exactly the module's
            keys and shapes. Defaults to False (MMEngine's behaviour).
    """

    def __init__(self,
                 checkpoint: Optional[str],
                 prefix: Optional[str] = None,
                 map_location: str = 'cpu',
                 strict: bool = False) -> None:
        super().__init__(checkpoint, prefix=prefix, map_location=map_location)
        self.strict = strict

    def __call__(self, module: nn.Module) -> None:
        """Load the checkpoint into ``module``.

        Args:
            module (nn.Module): The module with this ``init_cfg``.
        """
        self._check_checkpoint(module)
        if not self.strict:
            super().__call__(module)
            return
        self._load_strictly(module)
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=self._get_init_info())

    def _check_checkpoint(self, module: nn.Module) -> None:
        """Fail clearly when there is no checkpoint to load.

        Args:
            module (nn.Module): The module, for the error message.
        """
        owner = f'init_cfg Pretrained of {type(module).__name__}'
        if not isinstance(self.checkpoint, str) or not self.checkpoint:
            raise ValueError(
                f'{owner} has checkpoint={self.checkpoint!r}, so the '
                f'weights would stay random; {CHECKPOINT_HINT}.')
        if '://' not in self.checkpoint and not osp.isfile(
                osp.expanduser(self.checkpoint)):
            raise FileNotFoundError(
                f'{owner}: checkpoint {self.checkpoint} not found; check the '
                f'path or {CHECKPOINT_HINT}.')

    def _load_strictly(self, module: nn.Module) -> None:
        """Load, every key and shape of the module required to match.

        A checkpoint without ``prefix`` in its keys is taken as a
        backbone-only file (OpenSelfSup's, the DeepCluster release, the
        output of extract_backbone_weights.py) and put where the module
        holds that backbone (see :func:`convert_checkpoint`).

        Args:
            module (nn.Module): The module to load into.
        """
        expected = module.state_dict()
        given = self._module_tensors()
        try:
            converted = convert_checkpoint(given, expected, self.checkpoint)
        except CheckpointShapeError:
            raise
        except ValueError:  # no key fits: described below
            converted = None
        if converted is not None:
            given = {converted.prefix + key: value
                     for key, value in given.items()}
        mismatch = describe_mismatch(expected, given)
        if mismatch:
            raise RuntimeError(
                f'init_cfg Pretrained of {type(module).__name__}: checkpoint '
                f'{self.checkpoint} (keys under prefix {self.prefix!r}) does '
                f'not fit the model: {mismatch}. Use a checkpoint of this '
                'architecture (a Sobel DeepCluster checkpoint needs a -sobel '
                'config, and the reverse).')
        load_state_dict(module, converted.state_dict, strict=True,
                        logger='current')

    def _module_tensors(self) -> Dict[str, torch.Tensor]:
        """The checkpoint's tensors under ``prefix`` (prefix removed), or
        all of them when no key has the prefix (a backbone-only file).

        Returns:
            dict[str, torch.Tensor]: The tensors by key.
        """
        state_dict = state_dict_of(
            _load_checkpoint(self.checkpoint, self.map_location))
        prefix = self.prefix or ''
        if not any(key.startswith(prefix) for key in state_dict):
            return dict(state_dict)
        return {
            key[len(prefix):]: value
            for key, value in state_dict.items() if key.startswith(prefix)
        }
