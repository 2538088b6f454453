"""Base of the labelled benchmark datasets with an optional categories file."""
from typing import Optional, Union

from mmpretrain.datasets import BaseDataset

from .annotation_io import join_root


class CategorisedDataset(BaseDataset):
    """A labelled image dataset read from one annotation file, whose class
    names may come from a separate categories file.

    Subclasses read the annotation file in ``load_data_list`` and the
    categories file (:attr:`categories_file`, already joined with
    ``data_root``) where their format says.

    Args:
        ann_file (str): The annotation file, relative to ``data_root``.
        data_root (str): The dataset's root folder. Defaults to ''.
        data_prefix (str | dict): The image folder, relative to
            ``data_root``. Defaults to ''.
        categories_file (str, optional): The class names file, relative to
            ``data_root``. Defaults to None.
        **kwargs: Other arguments of :class:`mmpretrain.datasets.
            BaseDataset` (``pipeline``, ``indices``, ``lazy_init`` ...).
    """

    def __init__(self,
                 ann_file: str,
                 data_root: str = '',
                 data_prefix: Union[str, dict] = '',
                 categories_file: Optional[str] = None,
                 **kwargs) -> None:
        given = kwargs.get('classes') is not None or 'classes' in (
            kwargs.get('metainfo') or {})
        if categories_file is not None and given:
            raise ValueError(
                f'{type(self).__name__}: give the class names either by '
                'categories_file or by classes/metainfo, not both.')
        self.categories_file = None if categories_file is None else \
            join_root(data_root, categories_file)
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=data_prefix,
            **kwargs)

    def check_num_classes(self, num_classes: int, source: str) -> None:
        """Raise a clear error if the class names given do not fit.

        Args:
            num_classes (int): The number of classes.
            source (str): Where that number comes from, for the message.
        """
        classes = self.CLASSES
        if classes is not None and len(classes) != num_classes:
            raise ValueError(
                f'{type(self).__name__}: {len(classes)} class names given '
                f'but {source} has {num_classes} classes.')
