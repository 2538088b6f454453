r"""Extract the backbone weights of an ODC / DeepCluster checkpoint.

Usage::

    python tools/model_converters/extract_backbone_weights.py \
        CHECKPOINT OUTPUT

    mim run mmodc extract_backbone_weights CHECKPOINT OUTPUT

OUTPUT holds the backbone's tensors without their prefix, the layout of the
published backbone-only files (OpenSelfSup's extract_backbone_weights.py):
``backbone.`` is stripped, and for a backbone inside another one (a
SobelBackbone: ``backbone.backbone.*``) both prefixes are, so OUTPUT loads
strictly into the inner network, e.g. an MMPretrain ``ResNet`` (with
``in_channels=2`` for a Sobel checkpoint; the Sobel filter has no weights).
The rest of the model (neck, head, memory) is dropped. ``meta`` records the
source, the stripped prefix and ``backbone_in_channels``.

To evaluate OUTPUT with a benchmark config, convert it to the config's model
first (tools/model_converters/convert_checkpoint.py), or give it to a plain
(non-Sobel) config with ``model.backbone.init_cfg.prefix=None``.
"""
import argparse
import os.path as osp
import sys
from typing import Dict, Mapping, Optional, Sequence, Tuple

import torch

# tools/ holds what the tools share
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from _runner_setup import (  # noqa: E402
    docstring_parser,
    import_mmodc,
    write_checkpoint,
)

#: The prefix of a model's backbone keys (repeated for nested backbones).
BACKBONE = 'backbone.'


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (Sequence[str], optional): The arguments (default: sys.argv).

    Returns:
        argparse.Namespace: ``checkpoint`` and ``output``.
    """
    parser = docstring_parser(__doc__)
    parser.add_argument('checkpoint', help='whole-model checkpoint (path '
                        'or URL) with backbone.* keys')
    parser.add_argument('output', help='backbone-only file to write')
    return parser.parse_args(argv)


def backbone_prefix(keys: Sequence[str], source: str) -> str:
    """``backbone.``, repeated as long as every backbone key has it again.

    Args:
        keys (Sequence[str]): The checkpoint's keys.
        source (str): The checkpoint's name, for the message.

    Returns:
        str: E.g. 'backbone.' or 'backbone.backbone.' (SobelBackbone).

    Raises:
        ValueError: If no key starts with ``backbone.``.
    """
    backbone_keys = [key for key in keys if key.startswith(BACKBONE)]
    if not backbone_keys:
        raise ValueError(
            f'{source} has no {BACKBONE}* keys (it has e.g. '
            f'{", ".join(keys[:5])}): give a whole-model checkpoint (an '
            'mmodc or MMSelfSup training checkpoint); a backbone-only file '
            'needs no extraction.')
    prefix = BACKBONE
    while all(key.startswith(prefix + BACKBONE) for key in backbone_keys):
        prefix += BACKBONE
    return prefix


def in_channels(state_dict: Mapping[str, torch.Tensor]) -> Optional[int]:
    """The input channels of the first convolution (2 for Sobel models).

    Args:
        state_dict (Mapping[str, torch.Tensor]): Backbone tensors, in the
            network's order.

    Returns:
        int, optional: The channels, None without a 4-d weight.
    """
    return next((tensor.shape[1] for tensor in state_dict.values()
                 if tensor.dim() == 4), None)


def extract(state_dict: Mapping[str, torch.Tensor],
            source: str) -> Tuple[str, Dict[str, torch.Tensor]]:
    """The backbone's tensors without their prefix.

    Args:
        state_dict (Mapping[str, torch.Tensor]): The whole model's tensors.
        source (str): The checkpoint's name, for messages.

    Returns:
        tuple[str, dict]: The stripped prefix and the backbone's tensors.
    """
    prefix = backbone_prefix(list(state_dict), source)
    return prefix, {
        key[len(prefix):]: tensor
        for key, tensor in state_dict.items() if key.startswith(prefix)
    }


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Write the backbone weights of CHECKPOINT to OUTPUT.

    Args:
        argv (Sequence[str], optional): The arguments (default: sys.argv).
    """
    args = parse_args(argv)
    import_mmodc()

    from mmodc.models.utils import read_state_dict
    from mmodc.models.utils.checkpoint_conversion import group_keys
    try:
        state_dict = read_state_dict(args.checkpoint)
        prefix, backbone = extract(state_dict, args.checkpoint)
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f'{osp.basename(__file__)}: error: {error}')
    channels = in_channels(backbone)
    meta = dict(
        source=args.checkpoint,
        stripped_prefix=prefix,
        backbone_in_channels=channels,
        layout='backbone-only: keys without prefix; loads strictly into '
        f'the backbone network (e.g. ResNet with in_channels={channels})')
    write_checkpoint(dict(meta=meta, state_dict=backbone), args.output)
    dropped = [key for key in state_dict if not key.startswith(prefix)]
    print(f'Wrote {len(backbone)} backbone tensors ({prefix}* of '
          f'{args.checkpoint}, input channels: {channels}) to {args.output}; '
          f'they load strictly into the backbone network, e.g. an '
          f'MMPretrain ResNet with in_channels={channels}.')
    print(f'Dropped {len(dropped)} other keys' + ''.join(
        f'\n  {group}' for group in group_keys(dropped, depth=1)))


if __name__ == '__main__':
    main()
