"""Test-only model whose features are known: the one-hot code of an
image's grey level.

Loaded by test configs through ``custom_imports`` (tests/ on the path). An
image of grey level ``20 + 30 * c`` gets feature row ``codes[c]``; the codes
start at zero (an 'untrained' model) and a checkpoint sets them.
"""
from typing import Optional

import torch
from mmengine.model import BaseModel

from mmodc.registry import MODELS


def grey_level(label: int) -> int:
    """The grey level of the images of class ``label``."""
    return 20 + 30 * label


@MODELS.register_module()
class KnnColourModel(BaseModel):
    """Features ``codes[c]`` for images of grey level ``20 + 30 * c``.

    Args:
        num_classes (int): Number of grey levels told apart.
    """

    def __init__(self, num_classes: int = 8) -> None:
        super().__init__(data_preprocessor=dict(type='ClsDataPreprocessor'))
        self.register_buffer('codes', torch.zeros(num_classes, num_classes))

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """The code of each image's grey level (``B x num_classes``)."""
        level = (inputs.float().mean(dim=(1, 2, 3)) - 20) / 30
        return self.codes[level.round().long().clamp(0, len(self.codes) - 1)]

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[list] = None,
                mode: str = 'tensor') -> torch.Tensor:
        """Features in every mode (the kNN tool needs no other)."""
        return self.extract_feat(inputs)
