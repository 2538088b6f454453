r"""Convert a published ODC / DeepCluster checkpoint to a config's model.

Usage::

    python tools/model_converters/convert_checkpoint.py SRC DST \
        --config CONFIG [--cfg-options KEY=VALUE ...]

    # the MMSelfSup 0.x ODC release (backbone, neck, head; no memory)
    python tools/model_converters/convert_checkpoint.py \
      odc_resnet50_8xb64-steplr-440e_in1k_20220225-a755d9c0.pth \
      odc_r50_mmodc.pth \
      --config configs/selfsup/odc/odc_resnet50_8xb64-steplr-440e_in1k.py

    # the DeepCluster Sobel release (backbone only, 2 input channels)
    CONFIGS=configs/selfsup/deepcluster
    python tools/model_converters/convert_checkpoint.py \
      deepcluster-sobel_resnet50_8xb64-steplr-200e_in1k-bb8681e2.pth \
      deepcluster_sobel_r50_mmodc.pth \
      --config $CONFIGS/deepcluster-sobel_resnet50_8xb64-steplr-200e_in1k.py

The model of CONFIG is built (with ``--cfg-options`` applied; the ODC
ImageNet config's memory takes 1.3 GB) and SRC's layout detected: a
checkpoint whose keys are already the model's (an MMSelfSup 0.x or mmodc
checkpoint) is kept as it is, a backbone-only file (keys without a prefix,
as OpenSelfSup's extract_backbone_weights.py wrote them) goes under the
prefix where the model holds its backbone (``backbone.``, or
``backbone.backbone.`` inside a SobelBackbone). The model keys SRC does
not provide (e.g. ODC's memory banks) and the SRC keys the model has no
place for (dropped) are printed; a tensor whose shape differs from the
model's is an error. DST holds ``state_dict`` in the model's layout and
``meta.mmodc_conversion`` (source, config, layout, prefix, missing,
unexpected); load it with ``load_from=DST``, ``mim test mmodc CONFIG
--checkpoint DST`` or ``mmengine.runner.load_checkpoint(model, DST,
strict=False)``.
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

from mmengine.config import DictAction

# tools/ holds what the tools share
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from _runner_setup import (  # noqa: E402
    docstring_parser,
    import_mmodc,
    write_checkpoint,
)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (Sequence[str], optional): The arguments (default: sys.argv).

    Returns:
        argparse.Namespace: ``src``, ``dst``, ``config`` and
        ``cfg_options``.
    """
    parser = docstring_parser(__doc__)
    parser.add_argument('src', help='checkpoint to convert (path or URL)')
    parser.add_argument('dst', help='converted checkpoint to write')
    parser.add_argument(
        '--config', required=True, help='config of the target model')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value pairs, e.g. '
        'model.head.num_classes=100 model.memory_bank.num_classes=100')
    return parser.parse_args(argv)


def model_state(config: str, cfg_options: Optional[dict]) -> dict:
    """The state dict of a freshly built model of a config.

    Args:
        config (str): Path of the config.
        cfg_options (dict, optional): Settings to override.

    Returns:
        dict[str, torch.Tensor]: The model's state dict.
    """
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmodc.registry import MODELS
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmodc'))
    return MODELS.build(cfg.model).state_dict()


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Convert SRC to the model of ``--config`` and write DST.

    Args:
        argv (Sequence[str], optional): The arguments (default: sys.argv).
    """
    args = parse_args(argv)
    import_mmodc()

    from mmodc.models.utils import convert_checkpoint, read_state_dict
    try:
        converted = convert_checkpoint(
            read_state_dict(args.src),
            model_state(args.config, args.cfg_options),
            source=args.src)
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f'{osp.basename(__file__)}: error: {error}')
    print(f'{args.src} -> model of {args.config}\n{converted.summary()}')
    conversion = dict(
        source=args.src,
        config=args.config,
        layout=converted.layout,
        prefix=converted.prefix,
        missing=converted.missing,
        unexpected=converted.unexpected)
    write_checkpoint(
        dict(
            meta=dict(mmodc_conversion=conversion),
            state_dict=converted.state_dict), args.dst)
    print(f'Wrote {args.dst}')


if __name__ == '__main__':
    main()
