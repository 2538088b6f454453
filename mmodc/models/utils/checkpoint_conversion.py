"""Convert published ODC / DeepCluster checkpoints to an mmodc model's keys.

The published weights come in two layouts (see the model zoo):

- whole-model checkpoints (MMSelfSup 0.x ODC: ``backbone.*``, ``neck.*``,
  ``head.*``; an mmodc training checkpoint, memory banks included), whose
  keys are already the model's;
- backbone-only files (OpenSelfSup's ``extract_backbone_weights.py``, the
  DeepCluster Sobel release): the ResNet's keys without a prefix, which
  belong under the prefix where the model holds that ResNet:
  ``backbone.`` for a plain backbone, ``backbone.backbone.`` inside a
  :class:`SobelBackbone`.

Keys the model has no place for (e.g. an MMSelfSup 1.x checkpoint's
``loss_weight`` and ``backbone.sobel_layer.*``) are dropped and reported;
a tensor whose shape differs from the model's is an error.
"""
import pickle
from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Sequence, Set, Tuple

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.runner.checkpoint import _load_checkpoint

from .memory_shards import with_whole_memory

#: Where a model keeps its backbone: the candidate prefixes of a
#: backbone-only file are the model's module paths from here on.
BACKBONE = 'backbone.'
#: Keys a model may lack in a checkpoint without harm (BatchNorm counters).
IGNORED_MISSING = 'num_batches_tracked'
#: Layout names of :attr:`ConvertedCheckpoint.layout` by prefix.
WHOLE_MODEL, BACKBONE_ONLY = 'mmodc', 'backbone-only'


def describe_mismatch(expected: Dict[str, torch.Tensor],
                      given: Dict[str, torch.Tensor],
                      examples: int = 3) -> str:
    """What keeps a state dict from loading strictly into a module.

    Args:
        expected (dict[str, torch.Tensor]): The module's state dict.
        given (dict[str, torch.Tensor]): The state dict to load.
        examples (int): How many keys to name per kind of problem.

    Returns:
        str: The missing, unexpected and mis-shaped keys (counts and
        examples); empty if none.
    """
    # BatchNorm counters are not weights (MMEngine ignores them too)
    missing = [key for key in expected if key not in given
               and not key.endswith(IGNORED_MISSING)]
    unexpected = [key for key in given if key not in expected]
    shapes = [
        f'{key} {tuple(given[key].shape)} vs {tuple(value.shape)}'
        for key, value in expected.items()
        if key in given and given[key].shape != value.shape
    ]
    problems = (('missing', missing), ('unexpected', unexpected),
                ('checkpoint vs model shape', shapes))
    return '; '.join(
        f'{len(keys)} {kind} (e.g. {", ".join(keys[:examples])})'
        for kind, keys in problems if keys)


class CheckpointShapeError(ValueError):
    """A checkpoint tensor whose shape differs from the model's."""


@dataclass
class ConvertedCheckpoint:
    """A checkpoint in a model's key layout, and what did not fit.

    Attributes:
        state_dict (dict[str, torch.Tensor]): The checkpoint's tensors under
            the model's keys (only keys the model has).
        layout (str): The detected source layout: 'mmodc' (already the
            model's keys) or 'backbone-only'.
        prefix (str): The prefix added to the source keys: '' for 'mmodc',
            e.g. 'backbone.' or 'backbone.backbone.' for 'backbone-only'.
        missing (list[str]): Model keys the checkpoint does not provide
            (BatchNorm ``num_batches_tracked`` counters left out).
        unexpected (list[str]): Checkpoint keys with no place in the model
            (dropped), as the checkpoint names them.
    """

    state_dict: Dict[str, torch.Tensor]
    layout: str
    prefix: str
    missing: List[str]
    unexpected: List[str]

    def summary(self) -> str:
        """A report of the conversion, long key lists grouped by prefix.

        Returns:
            str: Layout, prefix, counts and the missing and unexpected keys.
        """
        lines = [
            f'layout: {self.layout} (prefix {self.prefix!r}), '
            f'{len(self.state_dict)} tensors converted'
        ]
        for kind, keys in (('missing', self.missing),
                           ('unexpected', self.unexpected)):
            lines.append(f'{len(keys)} {kind} keys' + (':' if keys else ''))
            lines += [f'  {group}' for group in group_keys(keys)]
        return '\n'.join(lines)


def group_keys(keys: Iterable[str],
               depth: int = 2,
               max_names: int = 4) -> List[str]:
    """Keys grouped by their first ``depth`` components, for reports.

    Args:
        keys (Iterable[str]): Dotted state dict keys.
        depth (int): How many components make a group. Defaults to 2.
        max_names (int): Groups with more keys show a count only.
            Defaults to 4.

    Returns:
        list[str]: One line per group, in order of first appearance, e.g.
        ``'neck.fc0: weight, bias'`` or ``'backbone.layer1: 60 keys'``.
    """
    groups: Dict[str, List[str]] = defaultdict(list)
    for key in keys:
        parts = key.split('.')
        groups['.'.join(parts[:depth])].append('.'.join(parts[depth:]))
    lines = []
    for group, rests in groups.items():
        if rests == ['']:
            lines.append(group)
        elif len(rests) > max_names:
            lines.append(f'{group}: {len(rests)} keys')
        else:
            lines.append(f'{group}: {", ".join(rests)}')
    return lines


def state_dict_of(checkpoint: Mapping) -> Mapping[str, torch.Tensor]:
    """The state dict of a full checkpoint, or the mapping itself.

    Args:
        checkpoint (Mapping): ``{'state_dict': ..., 'meta': ...}`` (mmodc,
            MMSelfSup), ``{'state_dict': ..., 'author': 'OpenSelfSup'}``
            or a bare state dict.

    Returns:
        Mapping[str, torch.Tensor]: The tensors by key.
    """
    return checkpoint.get('state_dict', checkpoint)


def read_state_dict(filename: str,
                    weights_only: bool = False) -> Mapping[str, torch.Tensor]:
    """Read the state dict of a checkpoint file, on the CPU (with the
    whole memory banks of a sharded memory, read from its shard files).

    Args:
        filename (str): Path (or URL) of the checkpoint.
        weights_only (bool): Unpickle tensors and plain containers only, as
            for a file from the internet. Defaults to False: MMEngine's
            loader (local files are trusted).

    Returns:
        Mapping[str, torch.Tensor]: The tensors by key.
    """
    if not weights_only:
        return state_dict_of(with_whole_memory(
            _load_checkpoint(filename, map_location='cpu', logger='current'),
            filename))
    try:
        return state_dict_of(
            torch.load(filename, map_location='cpu', weights_only=True))
    except pickle.UnpicklingError as error:
        raise pickle.UnpicklingError(
            f'{filename} holds more than tensors, which a downloaded '
            'checkpoint is not trusted to; if you trust its source, load '
            f'the file by its local path instead. ({error})') from error


def candidate_prefixes(model_keys: Iterable[str]) -> Set[str]:
    """The prefixes a checkpoint's keys may need: none, and every module
    path of the model under its backbone.

    Args:
        model_keys (Iterable[str]): The model's state dict keys.

    Returns:
        set[str]: '' and e.g. 'backbone.', 'backbone.backbone.', ...
    """
    prefixes = {''}
    for key in model_keys:
        parts = key.split('.')[:-1]
        prefixes.update('.'.join(parts[:end]) + '.'
                        for end in range(1, len(parts) + 1))
    return {p for p in prefixes if p == '' or p.startswith(BACKBONE)}


def best_prefix(keys: Sequence[str],
                model_state: Mapping[str, torch.Tensor]) -> Tuple[str, int]:
    """The prefix under which most checkpoint keys are model keys.

    Args:
        keys (Sequence[str]): The checkpoint's keys.
        model_state (Mapping[str, torch.Tensor]): The model's state dict.

    Returns:
        tuple[str, int]: The prefix (the shortest of equally good ones, so
        '' when the keys are already the model's) and how many keys match.
    """
    matches = {
        prefix: sum(prefix + key in model_state for key in keys)
        for prefix in candidate_prefixes(model_state)
    }
    prefix = min(matches, key=lambda p: (-matches[p], len(p), p))
    return prefix, matches[prefix]


def shape_hint(model_key: str, given: torch.Size, expected: torch.Size,
               model_keys: Iterable[str]) -> str:
    """What to do about a mis-shaped tensor, where a fix is known.

    Args:
        model_key (str): The model's key of the tensor.
        given (torch.Size): The checkpoint's shape.
        expected (torch.Size): The model's shape.
        model_keys (Iterable[str]): All model keys.

    Returns:
        str: A hint, or the general advice where no fix is known.
    """
    if (len(given) == 4 and len(expected) == 4 and given[0] == expected[0]
            and given[2:] == expected[2:] and 2 in (given[1], expected[1])):
        if given[1] == 2:
            return ('The checkpoint is of a Sobel model (2 input channels): '
                    'use the -sobel config')
        return (f'The checkpoint takes {given[1]} input channels but the '
                'model is a Sobel one (2): use the config without -sobel')
    if (model_key.startswith('head.') and len(given) == len(expected) >= 1
            and given[1:] == expected[1:]):
        options = [f'model.head.num_classes={given[0]}']
        if any(key.startswith('memory_bank.') for key in model_keys):
            options.append(f'model.memory_bank.num_classes={given[0]}')
        return (f'The checkpoint has {given[0]} clusters: set '
                f'{" and ".join(options)} in the config (e.g. with '
                '--cfg-options)')
    return ('Use the config of the architecture the checkpoint was '
            'trained with')


def check_shapes(state_dict: Mapping[str, torch.Tensor],
                 model_state: Mapping[str, torch.Tensor], prefix: str,
                 source: str) -> None:
    """Refuse tensors that would not fit the model.

    Args:
        state_dict (Mapping[str, torch.Tensor]): The checkpoint's tensors
            under the model's keys.
        model_state (Mapping[str, torch.Tensor]): The model's state dict.
        prefix (str): The prefix added to the checkpoint's keys.
        source (str): The checkpoint's name, for the message.

    Raises:
        CheckpointShapeError: Naming every mis-shaped key, both shapes and
            what to do.
    """
    problems, hints = [], []
    for key, tensor in state_dict.items():
        given, expected = tensor.shape, model_state[key].shape
        if given == expected:
            continue
        name = f'{key[len(prefix):]} (model key {key})' if prefix else key
        problems.append(
            f'{name}: checkpoint {tuple(given)} vs model {tuple(expected)}')
        hint = shape_hint(key, given, expected, model_state)
        if hint not in hints:
            hints.append(hint)
    if problems:
        raise CheckpointShapeError(
            f'{source}: {len(problems)} tensor(s) do not fit the model: ' +
            '; '.join(problems) + '. ' +
            ' '.join(f'{hint}.' for hint in hints))


def convert_checkpoint(checkpoint: Mapping,
                       model_state: Mapping[str, torch.Tensor],
                       source: str = 'checkpoint') -> ConvertedCheckpoint:
    """Put a checkpoint's tensors under a model's keys.

    The layout is detected from the keys: a checkpoint whose keys are the
    model's stays as it is ('mmodc'); otherwise its keys get the prefix of
    the model's backbone under which most of them are model keys
    ('backbone-only'), e.g. ``backbone.backbone.`` for a SobelBackbone.

    Args:
        checkpoint (Mapping): A full checkpoint (with ``state_dict``) or a
            bare state dict.
        model_state (Mapping[str, torch.Tensor]): The model's state dict
            (only names and shapes are used).
        source (str): The checkpoint's name for error messages, e.g. its
            file name. Defaults to 'checkpoint'.

    Returns:
        ConvertedCheckpoint: The tensors under the model's keys, the
        layout, and the missing and unexpected keys.

    Raises:
        ValueError: If no key fits the model at all.
        CheckpointShapeError: If a tensor's shape differs from the model's.
    """
    state_dict = state_dict_of(checkpoint)
    keys = list(state_dict)
    prefix, matched = best_prefix(keys, model_state)
    if not matched:
        raise ValueError(
            f'{source}: none of its {len(keys)} keys is a key of the model, '
            'with or without a backbone prefix: '
            f'{describe_mismatch(model_state, state_dict)}. Use a '
            'checkpoint of this architecture (a ResNet-50 for the ImageNet '
            'configs).')
    converted = {
        prefix + key: tensor
        for key, tensor in state_dict.items() if prefix + key in model_state
    }
    check_shapes(converted, model_state, prefix, source)
    return ConvertedCheckpoint(
        state_dict=converted,
        layout=BACKBONE_ONLY if prefix else WHOLE_MODEL,
        prefix=prefix,
        missing=[
            key for key in model_state
            if key not in converted and not key.endswith(IGNORED_MISSING)
        ],
        unexpected=[key for key in keys if prefix + key not in model_state])


def load_converted_checkpoint(model: nn.Module,
                              filename: str,
                              logger: str = 'current',
                              weights_only: bool = False
                              ) -> ConvertedCheckpoint:
    """Read a checkpoint, convert it to the model's layout and load it.

    The load is non-strict: only the reported missing keys keep the model's
    values. The conversion is logged.

    Args:
        model (nn.Module): The model to load into.
        filename (str): Path (or URL) of the checkpoint.
        logger (str): Logger of the report. Defaults to 'current'.
        weights_only (bool): Unpickle tensors and plain containers only
            (for downloaded files). Defaults to False.

    Returns:
        ConvertedCheckpoint: The conversion that was loaded.
    """
    converted = convert_checkpoint(
        read_state_dict(filename, weights_only),
        model.state_dict(),
        source=filename)
    model.load_state_dict(converted.state_dict, strict=False)
    print_log(f'Loaded {filename}: {converted.summary()}', logger=logger)
    return converted
