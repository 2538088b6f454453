"""Places205 scene classification read from OpenSelfSup-style list files."""
from typing import List, Sequence, Tuple

from mmengine.fileio import join_path

from mmodc.registry import DATASETS
from .annotation_io import read_lines, require_path
from .categorised_dataset import CategorisedDataset


@DATASETS.register_module()
class Places205(CategorisedDataset):
    """Places205 (205 scene classes), for the linear and kNN benchmarks.

    The layout of OpenSelfSup / MMSelfSup::

        data/places205/
        ├── meta/train_labeled.txt     # "a/abbey/00000000.jpg 0" per line
        ├── meta/val_labeled.txt
        ├── meta/categories.txt        # optional: "/a/abbey 0" per line
        ├── train/a/abbey/00000000.jpg ...
        └── val/...

    Every line of the list file is an image path relative to ``data_prefix``
    and a label in ``[0, 205)``. The class names come from the optional
    categories file: one name per line, in label order, or ``name index``
    per line (the official ``categoryIndex_places205.csv``) in any order.

    Args:
        ann_file (str): The list file, relative to ``data_root``, e.g.
            ``'meta/train_labeled.txt'``.
        data_root (str): The dataset's root folder. Defaults to ''.
        data_prefix (str | dict): The image folder, relative to
            ``data_root``, e.g. ``'train'``. Defaults to ''.
        categories_file (str, optional): The class names file, relative to
            ``data_root``. Defaults to None (no names).
        classes (Sequence[str] | str, optional): Class names instead of a
            categories file (MMPretrain's argument).
        **kwargs: Other arguments of :class:`mmpretrain.datasets.
            BaseDataset` (``pipeline``, ``indices``, ``lazy_init`` ...).
    """

    NUM_CLASSES = 205

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.categories_file is not None:
            self._metainfo['classes'] = self._read_categories(
                self.categories_file)
        self.check_num_classes(self.NUM_CLASSES, 'Places205')

    def load_data_list(self) -> List[dict]:
        """Read the list file: one ``img_path`` and ``gt_label`` per line.

        Returns:
            list[dict]: The data infos, in file order.
        """
        lines = read_lines(self.ann_file, 'Places205',
                           'annotation list (ann_file)')
        require_path(self.img_prefix, 'Places205',
                     'image folder (data_prefix)', folder=True)
        data_list = []
        for line_no, line in enumerate(lines, start=1):
            path, label = self._parse_sample(line, line_no)
            data_list.append(
                dict(
                    img_path=join_path(self.img_prefix, path),
                    gt_label=label))
        return data_list

    def _parse_sample(self, line: str, line_no: int) -> Tuple[str, int]:
        """Split a list line into its image path and checked label.

        Args:
            line (str): The line.
            line_no (int): Its 1-based number, for the messages.

        Returns:
            tuple[str, int]: The relative path and the label.
        """
        where = f'Places205: {self.ann_file} line {line_no}'
        fields = line.strip().rsplit(maxsplit=1)
        if len(fields) != 2:
            raise ValueError(
                f'{where}: expected "<relative/path.jpg> <label>", got '
                f'{line!r}.')
        path, label = fields
        try:
            label = int(label)
        except ValueError:
            raise ValueError(
                f'{where}: the label {label!r} is not an integer.') from None
        if not 0 <= label < self.NUM_CLASSES:
            raise ValueError(
                f'{where}: label {label} is out of range; Places205 labels '
                f'are 0 to {self.NUM_CLASSES - 1}.')
        return path, label

    @classmethod
    def _read_categories(cls, path: str) -> Tuple[str, ...]:
        """Class names from a categories file, in label order.

        Args:
            path (str): The file: ``name`` or ``name index`` per line.

        Returns:
            tuple[str, ...]: ``NUM_CLASSES`` names.
        """
        rows = [
            line.split() for line in read_lines(
                path, 'Places205', 'categories file (categories_file)')
        ]
        if any(len(row) not in (1, 2) for row in rows) or len(
                {len(row) for row in rows}) > 1:
            raise ValueError(
                f'Places205: categories file {path}: every line must be '
                '"<name>" or every line "<name> <index>".')
        if len(rows) != cls.NUM_CLASSES:
            raise ValueError(
                f'Places205: categories file {path} has {len(rows)} lines; '
                f'Places205 has {cls.NUM_CLASSES} classes.')
        if rows and len(rows[0]) == 2:
            return cls._order_by_index(rows, path)
        return tuple(row[0] for row in rows)

    @classmethod
    def _order_by_index(cls, rows: Sequence[List[str]],
                        path: str) -> Tuple[str, ...]:
        """Names of ``name index`` rows, ordered by index.

        Args:
            rows (Sequence[list[str]]): ``[name, index]`` pairs.
            path (str): The categories file, for the messages.

        Returns:
            tuple[str, ...]: The names in index order.
        """
        try:
            by_index = {int(index): name for name, index in rows}
        except ValueError:
            raise ValueError(
                f'Places205: categories file {path}: an index is not an '
                'integer.') from None
        if sorted(by_index) != list(range(cls.NUM_CLASSES)):
            raise ValueError(
                f'Places205: categories file {path}: the indices must be '
                f'0 to {cls.NUM_CLASSES - 1}, each once.')
        return tuple(by_index[index] for index in range(cls.NUM_CLASSES))
