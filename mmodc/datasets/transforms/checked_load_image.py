"""Image loading that refuses empty, truncated and non-image files."""
from typing import Optional

from mmcv.transforms import LoadImageFromFile

from mmodc.registry import TRANSFORMS
from ..image_files import decode_image

#: What to do about a bad image met in training.
TRAINING_HINT = ('remove or replace the file (or run tools/cluster_images.py '
                 'on the folder: it lists every unreadable file; or set '
                 'skip_bad_samples = True in the config to train without '
                 'it)')


class UnreadableImageError(OSError):
    """An image file of a dataset cannot be decoded.

    Args:
        path (str): The file.
        reason (str): Why (empty, truncated, missing, not an image...).
        ann_line (str, optional): The annotation line that names the file.
        hint (str): What to do, the end of the message.
    """

    def __init__(self, path: str, reason: str,
                 ann_line: Optional[str] = None,
                 hint: str = TRAINING_HINT) -> None:
        self.path, self.reason = path, reason
        self.ann_line, self.hint = ann_line, hint
        where = f' ({ann_line})' if ann_line else ''
        super().__init__(f'{path}{where}: {reason}; {hint}.')

    def __reduce__(self):
        """Pickle with the arguments (DataLoader workers send it back)."""
        return type(self), (self.path, self.reason, self.ann_line, self.hint)


@TRANSFORMS.register_module()
class CheckedLoadImageFromFile(LoadImageFromFile):
    """``LoadImageFromFile`` that stops at a bad file and names it.

    MMCV's loader decodes with OpenCV, which returns the readable part of
    a truncated JPEG with a warning only and fails on an empty file with an
    error that does not name it. This one decodes the whole file with
    Pillow (:func:`mmodc.datasets.image_files.decode_image`) and raises
    :class:`UnreadableImageError` with the path, the reason and the
    annotation line (``ann_line``, kept by :class:`CheckedCustomDataset`),
    so a training run stops at the first bad image instead of learning from
    a corrupt one (or skips it: :class:`SkipBadSamples`).

    Required keys: ``img_path``. Added keys: ``img``, ``img_shape``,
    ``ori_shape``.

    Args:
        color_type (str): ``'color'`` or ``'grayscale'``. Defaults to
            ``'color'``.
        to_float32 (bool): Return a float32 array. Defaults to False.
    """

    def __init__(self, color_type: str = 'color',
                 to_float32: bool = False) -> None:
        super().__init__(to_float32=to_float32, color_type=color_type)

    def transform(self, results: dict) -> dict:
        """Decode ``results['img_path']``.

        Args:
            results (dict): The sample, with ``img_path``.

        Returns:
            dict: The sample with the image.
        """
        path = results['img_path']
        try:
            img = decode_image(path, self.color_type)
        except OSError as error:
            raise UnreadableImageError(
                path, str(error), results.get('ann_line')) from error
        if self.to_float32:
            img = img.astype('float32')
        results.update(img=img, img_shape=img.shape[:2],
                       ori_shape=img.shape[:2])
        return results
