"""iNaturalist 2018 read from its official JSON annotation files."""
from typing import Any, Dict, List, Sequence, Tuple

from mmengine.fileio import join_path

from mmodc.registry import DATASETS
from .annotation_io import read_json
from .categorised_dataset import CategorisedDataset

_SECTION_KEYS = dict(
    images=('id', 'file_name'),
    annotations=('image_id', 'category_id'),
    categories=('id', 'name'))


@DATASETS.register_module()
class INat18(CategorisedDataset):
    """iNaturalist 2018 (8,142 species), for the linear and kNN benchmarks.

    Reads ``train2018.json`` / ``val2018.json`` as released (COCO-like)::

        {"images": [{"id", "file_name", "width", "height", ...}],
         "annotations": [{"id", "image_id", "category_id"}],
         "categories": [{"id", "name", "supercategory", "kingdom", ...}]}

    ``file_name`` (e.g. ``train_val2018/Plantae/7477/3b60c9486db1d2ee875f
    11a669fbde4a.jpg``) is relative to ``data_prefix``. Each image has
    exactly one annotation; its label is the rank of its ``category_id``
    among the sorted category ids (the official ids are 0 to 8141, so the
    label is the id; the map is kept in :attr:`category_to_label`). The
    class names are the categories' names: obfuscated in the released files,
    the real ones when ``categories_file`` gives the later ``categories.json``
    (which replaces the ``categories`` list, as its release note says), or
    the ``classes`` given. The names from the JSON are known once the
    annotations are loaded (after ``full_init``).

    Args:
        ann_file (str): The JSON file, relative to ``data_root``, e.g.
            ``'train2018.json'``.
        data_root (str): The dataset's root folder. Defaults to ''.
        data_prefix (str | dict): Folder that ``file_name`` is relative to,
            relative to ``data_root``. Defaults to ''.
        categories_file (str, optional): A JSON list of categories (``id``,
            ``name``) replacing the annotation file's. Defaults to None.
        classes (Sequence[str] | str, optional): Class names instead of the
            categories' names (MMPretrain's argument), one per category.
        **kwargs: Other arguments of :class:`mmpretrain.datasets.
            BaseDataset` (``pipeline``, ``indices``, ``lazy_init`` ...).
    """

    def __init__(self, *args, **kwargs) -> None:
        self.category_to_label: Dict[int, int] = {}
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Read the JSON file: one ``img_path`` and ``gt_label`` per image.

        Returns:
            list[dict]: The data infos, in the order of ``images``.
        """
        content = read_json(self.ann_file, 'INat18',
                            'annotation file (ann_file)')
        categories = self._categories(content)
        self.category_to_label = {
            category_id: label
            for label, (category_id, _) in enumerate(categories)
        }
        self.check_num_classes(len(categories), self.ann_file)
        if self.CLASSES is None:
            self._metainfo['classes'] = tuple(name for _, name in categories)
        files = self._image_files(self._section(content, 'images',
                                                self.ann_file))
        labels = self._image_labels(
            self._section(content, 'annotations', self.ann_file), files)
        unlabelled = [image_id for image_id in files if image_id not in labels]
        if unlabelled:
            raise ValueError(
                f'INat18: {self.ann_file}: {len(unlabelled)} image(s) have '
                f'no annotation, e.g. image id {unlabelled[0]}; every image '
                'needs exactly one.')
        return [
            dict(
                img_path=join_path(self.img_prefix, file_name),
                gt_label=labels[image_id])
            for image_id, file_name in files.items()
        ]

    @staticmethod
    def _section(content: Any, key: str, path: str) -> List[dict]:
        """A top-level list of the JSON file, its entries' keys checked.

        Args:
            content: The decoded JSON.
            key (str): 'images', 'annotations' or 'categories'.
            path (str): The file, for the messages.

        Returns:
            list[dict]: The entries.
        """
        if not isinstance(content, dict) or not isinstance(
                content.get(key), list):
            raise KeyError(
                f'INat18: {path} has no "{key}" list; an iNaturalist 2018 '
                'annotation file has "images", "annotations" and '
                '"categories".')
        needed = _SECTION_KEYS[key]
        for position, entry in enumerate(content[key]):
            missing = [name for name in needed if name not in entry]
            if missing:
                raise KeyError(
                    f'INat18: {path}: {key}[{position}] has no "{missing[0]}"'
                    f' (each entry of "{key}" needs {", ".join(needed)}).')
        return content[key]

    def _categories(self, content: Any) -> List[Tuple[int, str]]:
        """``(id, name)`` of every category, sorted by id.

        Args:
            content: The decoded annotation file.

        Returns:
            list[tuple[int, str]]: The categories.
        """
        path = self.ann_file
        if self.categories_file is not None:
            path = self.categories_file
            content = read_json(path, 'INat18',
                                'categories file (categories_file)')
            if isinstance(content, list):
                content = dict(categories=content)
        names: Dict[int, str] = {}
        for entry in self._section(content, 'categories', path):
            if entry['id'] in names:
                raise ValueError(
                    f'INat18: {path}: category id {entry["id"]} appears '
                    'twice.')
            names[entry['id']] = str(entry['name'])
        return sorted(names.items())

    def _image_files(self, images: Sequence[dict]) -> Dict[int, str]:
        """``file_name`` of every image id, in file order.

        Args:
            images (Sequence[dict]): The ``images`` entries.

        Returns:
            dict[int, str]: The file names by image id.
        """
        files: Dict[int, str] = {}
        for image in images:
            if image['id'] in files:
                raise ValueError(
                    f'INat18: {self.ann_file}: image id {image["id"]} '
                    'appears twice in "images".')
            files[image['id']] = image['file_name']
        return files

    def _image_labels(self, annotations: Sequence[dict],
                      files: Dict[int, str]) -> Dict[int, int]:
        """The label of every annotated image.

        Args:
            annotations (Sequence[dict]): The ``annotations`` entries.
            files (dict[int, str]): The known images.

        Returns:
            dict[int, int]: Labels by image id.
        """
        labels: Dict[int, int] = {}
        for position, annotation in enumerate(annotations):
            image_id = annotation['image_id']
            category_id = annotation['category_id']
            where = (f'INat18: {self.ann_file}: annotation '
                     f'{annotation.get("id", f"at position {position}")}')
            if image_id not in files:
                raise ValueError(
                    f'{where} refers to image id {image_id}, which is not '
                    'in "images".')
            if category_id not in self.category_to_label:
                raise ValueError(
                    f'{where} refers to category id {category_id}, which is '
                    'not in "categories"' + (
                        f' of {self.categories_file}'
                        if self.categories_file else '') + '.')
            if image_id in labels:
                raise ValueError(
                    f'{where}: image id {image_id} has a second annotation; '
                    'iNat18 has one label per image.')
            labels[image_id] = self.category_to_label[category_id]
        return labels
