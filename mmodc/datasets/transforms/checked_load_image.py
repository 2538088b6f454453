"""Image loading that refuses empty, truncated and non-image files."""
from mmcv.transforms import LoadImageFromFile

from mmodc.registry import TRANSFORMS
from ..image_files import decode_image


class UnreadableImageError(OSError):
    """An image file of a dataset cannot be decoded."""


@TRANSFORMS.register_module()
class CheckedLoadImageFromFile(LoadImageFromFile):
    """``LoadImageFromFile`` that stops at a bad file and names it.

    MMCV's loader decodes with OpenCV, which returns the readable part of
    a truncated JPEG with a warning only and fails on an empty file with an
    error that does not name it. This one decodes the whole file with
    Pillow (:func:`mmodc.datasets.image_files.decode_image`) and raises
    :class:`UnreadableImageError` with the path and the reason, so a
    training run stops at the first bad image instead of learning from a
    corrupt one.

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
                f'{path}: {error}; remove or replace the file (or run '
                'tools/cluster_images.py on the folder: it lists every '
                'unreadable file).') from error
        if self.to_float32:
            img = img.astype('float32')
        results.update(img=img, img_shape=img.shape[:2],
                       ori_shape=img.shape[:2])
        return results
