"""SVM benchmark targets: positives and difficult images, never a guess.

Two layouts of ``N x L`` target arrays share the values ``{1, 0, -1}``
with two meanings swapped, so an array is only read with its convention
named (:data:`TARGET_CONVENTIONS`):

* ``'voc_devkit'``: the PASCAL VOC devkit's per-class image lists
  (``ImageSets/Main/<class>_<split>.txt``): ``1`` the class is present,
  ``-1`` absent, ``0`` present only as difficult objects.
* ``'fair_benchmark'``: the target ``.npy`` files of FAIR's
  fair_self_supervision_benchmark (``create_voc_data_files.py``) and of the
  tools ported from it (OpenSelfSup / MMSelfSup ``svm_voc07``, VISSL's SVM
  trainers): ``1`` present, ``0`` absent, ``-1`` difficult ("ignore").

Both mean the same to the benchmark: training counts difficult images as
negatives, the test AP ignores them.
"""
from dataclasses import dataclass
from typing import Dict, Optional

import numpy as np
import torch

#: The value each convention gives a present, an absent and a difficult
#: (present only as difficult objects) image-class pair.
TARGET_CONVENTIONS: Dict[str, Dict[str, int]] = {
    'voc_devkit': dict(present=1, absent=-1, difficult=0),
    'fair_benchmark': dict(present=1, absent=0, difficult=-1),
}


@dataclass(frozen=True)
class SvmTargets:
    """Which images are positives and which are difficult, per class.

    Build it from masks directly, from an array in a named convention
    (:meth:`from_array`) or from single labels (:meth:`one_vs_rest`).

    Args:
        positive (torch.Tensor): ``N x L`` bool, the class is present.
        difficult (torch.Tensor): ``N x L`` bool, the class is present only
            as difficult objects (ignored by the test AP, a negative in
            training); never together with ``positive``.
    """

    positive: torch.Tensor
    difficult: torch.Tensor

    def __post_init__(self) -> None:
        for name in ('positive', 'difficult'):
            mask = getattr(self, name)
            if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
                raise TypeError(f'SvmTargets.{name} must be a bool tensor, '
                                f'got {_describe(mask)}.')
        if self.positive.dim() != 2 or (self.positive.shape !=
                                        self.difficult.shape):
            raise ValueError(
                'SvmTargets: positive and difficult must be samples x '
                f'classes of one shape, got {tuple(self.positive.shape)} and '
                f'{tuple(self.difficult.shape)}.')
        if bool((self.positive & self.difficult).any()):
            raise ValueError('SvmTargets: an image-class pair is both '
                             'positive and difficult.')

    @classmethod
    def from_array(cls, values, convention: str,
                   name: str = 'targets') -> 'SvmTargets':
        """Read an ``N x L`` array written in ``convention``.

        Args:
            values (array-like): The targets (numpy array or tensor).
            convention (str): A key of :data:`TARGET_CONVENTIONS`.
            name (str): What the array is (e.g. its file), for errors.

        Returns:
            SvmTargets: The masks.

        Raises:
            ValueError: For an unknown convention, values outside it, or
                more difficult than absent entries: difficult images are a
                few per class, so that array is in the other convention.
        """
        codes = _convention(convention)
        values = torch.as_tensor(np.asarray(values))
        if values.dim() != 2:
            raise ValueError(f'{name}: targets must be samples x classes, '
                             f'got shape {tuple(values.shape)}.')
        known = torch.tensor(sorted(codes.values()))
        stray = values[~torch.isin(values, known)]
        if len(stray):
            raise ValueError(
                f'{name}: read in the {convention!r} convention ({codes}), '
                f'but it holds {_values_found(stray)}.')
        targets = cls(positive=values == codes['present'],
                      difficult=values == codes['difficult'])
        _refuse_mostly_difficult(targets, values, name, convention)
        return targets

    @classmethod
    def one_vs_rest(cls, labels: torch.Tensor,
                    num_classes: Optional[int] = None) -> 'SvmTargets':
        """Targets of a single-label dataset: each image is a positive of
        its class and a negative of the others, none difficult.

        Args:
            labels (torch.Tensor): ``N`` class indices.
            num_classes (int, optional): ``L``; at least the largest label
                plus one (the default).

        Returns:
            SvmTargets: The masks.
        """
        labels = torch.as_tensor(labels).long()
        needed = int(labels.max()) + 1
        count = needed if num_classes is None else num_classes
        if count < needed:
            raise ValueError(f'one_vs_rest: label {needed - 1} does not fit '
                             f'{num_classes} classes.')
        positive = labels[:, None] == torch.arange(count)
        return cls(positive=positive,
                   difficult=torch.zeros_like(positive))

    def to_array(self, convention: str) -> torch.Tensor:
        """The int64 ``N x L`` array of these targets in ``convention``."""
        codes = _convention(convention)
        values = torch.full(self.positive.shape, codes['absent'])
        values[self.difficult] = codes['difficult']
        values[self.positive] = codes['present']
        return values

    def __len__(self) -> int:
        return self.positive.shape[0]

    @property
    def num_classes(self) -> int:
        """``L``, the number of classes."""
        return self.positive.shape[1]

    def training_labels(self) -> torch.Tensor:
        """SVM training labels: positives +1, everything else -1."""
        return torch.where(self.positive, 1, -1)

    def scored_labels(self) -> torch.Tensor:
        """Labels for :func:`average_precision`: positives 1, absent -1,
        difficult 0 (ignored)."""
        return self.to_array('voc_devkit')


def as_svm_targets(targets, name: str) -> SvmTargets:
    """``targets`` if they are :class:`SvmTargets`, else a clear error.

    Args:
        targets: What a caller passed.
        name (str): The argument, for the error.

    Returns:
        SvmTargets: ``targets``.

    Raises:
        TypeError: For arrays, whose convention would have to be guessed.
    """
    if isinstance(targets, SvmTargets):
        return targets
    raise TypeError(
        f'{name} must be SvmTargets, got {_describe(targets)}: {{1, 0, -1}} '
        'arrays mean different things in the VOC devkit and in FAIR\'s '
        "benchmark files, so name yours: SvmTargets.from_array(array, "
        f'convention=...) with one of {sorted(TARGET_CONVENTIONS)}.')


def _convention(convention: str) -> Dict[str, int]:
    """The codes of a named convention, or an error listing the names."""
    if convention not in TARGET_CONVENTIONS:
        raise ValueError(f'Unknown target convention {convention!r}; use '
                         f'one of {sorted(TARGET_CONVENTIONS)}.')
    return TARGET_CONVENTIONS[convention]


def _refuse_mostly_difficult(targets: SvmTargets, values: torch.Tensor,
                             name: str, convention: str) -> None:
    """Refuse arrays with more difficult than absent entries."""
    difficult = int(targets.difficult.sum())
    absent = targets.positive.numel() - int(targets.positive.sum()) - (
        difficult)
    if difficult > absent:
        other = next(key for key in TARGET_CONVENTIONS if key != convention)
        code = TARGET_CONVENTIONS[convention]['difficult']
        raise ValueError(
            f'{name}: read in the {convention!r} convention, {difficult} of '
            f'{values.numel()} entries are {code} = difficult and only '
            f'{absent} absent; difficult images are a few per class, so this '
            f'array is most likely in the {other!r} convention. Name that '
            'one, or build SvmTargets(positive=..., difficult=...) from '
            'masks if the array really is mostly difficult.')


def _values_found(stray: torch.Tensor) -> str:
    """A short description of unexpected values."""
    unique = stray.unique()
    shown = ', '.join(str(value) for value in unique[:5].tolist())
    more = f' and {len(unique) - 5} more' if len(unique) > 5 else ''
    return f'{len(stray)} entries outside it (values {shown}{more})'


def _describe(value) -> str:
    """Type (and dtype) of a value, for errors."""
    dtype = getattr(value, 'dtype', None)
    return type(value).__name__ + (f' of {dtype}' if dtype else '')
