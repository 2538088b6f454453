"""MMPretrain's CustomDataset with its annotation lines checked and kept."""
from typing import List, Tuple

from mmengine.fileio import get_file_backend, list_from_file
from mmpretrain.datasets import CustomDataset

from mmodc.registry import DATASETS


@DATASETS.register_module()
class CheckedCustomDataset(CustomDataset):
    """A folder of images or an annotation list, as MMPretrain's
    ``CustomDataset`` reads them, with clear errors for bad lines.

    ``CustomDataset`` fails on a blank annotation line or one without a
    label with a bare ``ValueError: not enough values to unpack``, and on
    an annotation file that lists nothing with ``need at least one array
    to concatenate``. This dataset names the file, the line number and the
    line instead. Every sample keeps ``ann_line``
    (``'meta/train.txt, line 12'``), so that
    :class:`CheckedLoadImageFromFile` names the line of an image that
    cannot be read (a missing or corrupt file).

    Args:
        **kwargs: The arguments of MMPretrain's ``CustomDataset``
            (``data_root``, ``data_prefix``, ``ann_file``, ``with_label``,
            ``pipeline``, ...).
    """

    def load_data_list(self) -> List[dict]:
        """Read the samples: every image of the folder, or one per
        annotation line.

        Returns:
            list[dict]: ``img_path`` (and ``gt_label`` with labels,
            ``ann_line`` with an annotation file) of each sample.

        Raises:
            ValueError: An annotation line names no file, has no integer
                label, or the annotation file lists no image.
        """
        if not self.ann_file:
            return super().load_data_list()
        backend = get_file_backend(self.img_prefix, enable_singleton=True)
        data_list = []
        for number, line in enumerate(list_from_file(self.ann_file), 1):
            where = f'{self.ann_file}, line {number}'
            filename, label = self._parse_line(line, where)
            info = dict(img_path=backend.join_path(self.img_prefix, filename),
                        ann_line=where)
            if self.with_label:
                info['gt_label'] = label
            data_list.append(info)
        if not data_list:
            raise ValueError(
                f'{type(self).__name__}: the annotation file {self.ann_file} '
                'lists no image; write one image per line (or leave ann_file '
                'empty to take every image of the folder).')
        return data_list

    def _parse_line(self, line: str, where: str) -> Tuple[str, int]:
        """The file name and label (-1 without labels) of one line."""
        text = line.strip()
        fields = text.rsplit(' ', 1) if self.with_label else [text, '-1']
        problem = None
        if not text:
            problem = 'names no image file (a blank line)'
        elif len(fields) != 2 or not fields[1].lstrip('-').isdigit():
            problem = ('has no integer label after the file name (each line '
                       "is 'path label'; set with_label=False for lines of "
                       'paths only)')
        if problem:
            raise ValueError(f'{type(self).__name__}: {where}: {line!r} '
                             f'{problem}; correct or remove the line.')
        return fields[0].strip(), int(fields[1])
