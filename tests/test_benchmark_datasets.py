"""Places205 and INat18: real-format list / JSON files and JPEGs in tmp_path,
read by the datasets and through an MMPretrain pipeline in a DataLoader."""
import json
import random
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from PIL import Image

from mmodc.datasets import INat18, Places205
from mmodc.registry import DATASETS

PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=32),
    dict(type='CenterCrop', crop_size=28),
    dict(type='PackInputs'),
]


def colour(label: int) -> Tuple[int, int, int]:
    """A flat RGB colour that identifies a label (survives JPEG)."""
    return (40 * (label % 6) + 20, 40 * (label // 6 % 6) + 20, 200)


def write_jpeg(path: Path, label: int) -> None:
    """A 48 x 40 JPEG of the colour of ``label``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new('RGB', (48, 40), colour(label)).save(path, quality=95)


def decoded_label(inputs) -> int:
    """The label whose colour a packed (BGR, C x H x W) image has."""
    blue, green, red = (inputs.float().mean(dim=(1, 2)) + 0.5).tolist()
    assert abs(blue - 200) < 6
    return round((red - 20) / 40) + 6 * round((green - 20) / 40)


def loader_labels(dataset_cfg: dict) -> Tuple[List[int], List[int]]:
    """Labels of the data samples and of the image colours of every batch
    of a real DataLoader over the dataset."""
    init_default_scope('mmodc')
    loader = Runner.build_dataloader(
        dict(
            batch_size=3,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False,
                         round_up=False),
            collate_fn=dict(type='default_collate'),
            dataset=dict(dataset_cfg, pipeline=PIPELINE)))
    sample_labels, image_labels = [], []
    for batch in loader:
        assert tuple(batch['inputs'].shape[1:]) == (3, 28, 28)
        sample_labels += [int(s.gt_label) for s in batch['data_samples']]
        image_labels += [decoded_label(image) for image in batch['inputs']]
    return sample_labels, image_labels


# ---------------------------------------------------------------- Places205
PLACES_SAMPLES = [('a/abbey/00000001.jpg', 0), ('b/bakery/shop/1.jpg', 7),
                  ('a/abbey/00000002.jpg', 0), ('y/youth_hostel/3.jpg', 204),
                  ('c/canyon/x 1.jpg', 12)]


@pytest.fixture
def places_root(tmp_path: Path) -> Path:
    """Places205 in the OpenSelfSup layout, with a categories file in the
    official ``/a/abbey 0`` form, listed out of order."""
    root = tmp_path / 'places205'
    for rel_path, label in PLACES_SAMPLES:
        write_jpeg(root / 'train' / rel_path, label)
    (root / 'meta').mkdir()
    (root / 'meta' / 'train_labeled.txt').write_text(''.join(
        f'{rel_path} {label}\n' for rel_path, label in PLACES_SAMPLES))
    order = list(range(205))
    random.Random(0).shuffle(order)
    (root / 'meta' / 'categories.txt').write_text(''.join(
        f'/x/scene_{index} {index}\n' for index in order))
    return root


def places_cfg(root: Path, **kwargs) -> dict:
    """A Places205 dataset config on ``root``."""
    cfg = dict(
        type='Places205',
        data_root=str(root),
        ann_file='meta/train_labeled.txt',
        data_prefix='train')
    cfg.update(kwargs)
    return cfg


def write_list(root: Path, text: str) -> None:
    """Replace the training list file."""
    (root / 'meta' / 'train_labeled.txt').write_text(text)


def test_places205_reads_list(places_root: Path) -> None:
    dataset = DATASETS.build(
        places_cfg(places_root, categories_file='meta/categories.txt'))
    assert isinstance(dataset, Places205)
    assert len(dataset) == len(PLACES_SAMPLES)
    assert dataset.get_gt_labels().tolist() == [
        label for _, label in PLACES_SAMPLES]
    assert [dataset.get_data_info(i)['img_path']
            for i in range(len(dataset))] == [
                str(places_root / 'train' / rel_path)
                for rel_path, _ in PLACES_SAMPLES]
    classes = dataset.metainfo['classes']
    assert len(classes) == 205
    assert classes[0] == '/x/scene_0' and classes[204] == '/x/scene_204'


def test_places205_without_categories_has_no_names(
        places_root: Path) -> None:
    dataset = DATASETS.build(places_cfg(places_root))
    assert dataset.CLASSES is None
    assert len(dataset) == len(PLACES_SAMPLES)


def test_places205_lazy_init_reads_on_demand(places_root: Path) -> None:
    list_file = places_root / 'meta' / 'train_labeled.txt'
    text = list_file.read_text()
    list_file.unlink()
    dataset = DATASETS.build(places_cfg(places_root, lazy_init=True))
    list_file.write_text(text)  # not read before it is needed
    assert len(dataset) == len(PLACES_SAMPLES)


def test_places205_dataloader_pipeline(places_root: Path) -> None:
    sample_labels, image_labels = loader_labels(places_cfg(places_root))
    expected = [label for _, label in PLACES_SAMPLES]
    assert sample_labels == expected
    # each sample's label belongs to the image that was loaded
    assert image_labels == [label % 36 for label in expected]


@pytest.mark.parametrize(
    'text, message',
    [('a/abbey/00000001.jpg 205\n', 'line 1: label 205 is out of range'),
     ('a/abbey/00000001.jpg 0\na/abbey/00000002.jpg -1\n',
      'line 2: label -1 is out of range'),
     ('a/abbey/00000001.jpg 0\n\n', 'line 2: expected'),
     ('a/abbey/00000001.jpg\n', 'line 1: expected'),
     ('a/abbey/00000001.jpg abbey\n', "line 1: the label 'abbey' is not")])
def test_places205_bad_list_line(places_root: Path, text: str,
                                 message: str) -> None:
    write_list(places_root, text)
    with pytest.raises(ValueError) as error:
        DATASETS.build(places_cfg(places_root))
    assert str(places_root / 'meta' / 'train_labeled.txt') in str(error.value)
    assert message in str(error.value)


def test_places205_missing_files(places_root: Path) -> None:
    with pytest.raises(FileNotFoundError, match='val_labeled.txt not found'):
        DATASETS.build(
            places_cfg(places_root, ann_file='meta/val_labeled.txt'))
    with pytest.raises(FileNotFoundError, match='image folder.*val'):
        DATASETS.build(places_cfg(places_root, data_prefix='val'))
    with pytest.raises(FileNotFoundError, match='categories file'):
        DATASETS.build(places_cfg(places_root, categories_file='meta/x.txt'))


@pytest.mark.parametrize(
    'lines, message',
    [([f'scene_{i}' for i in range(204)], 'has 204 lines'),
     ([f'scene_{i} {i + 1}' for i in range(205)], 'indices must be 0 to 204'),
     ([f'scene_{i} {i}' for i in range(204)] + ['last'], 'every line must'),
     ([f'scene {i}' for i in range(204)] + ['scene x'], 'not an integer')])
def test_places205_bad_categories(places_root: Path, lines: List[str],
                                  message: str) -> None:
    (places_root / 'meta' / 'categories.txt').write_text('\n'.join(lines))
    with pytest.raises(ValueError, match=message) as error:
        DATASETS.build(
            places_cfg(places_root, categories_file='meta/categories.txt'))
    assert 'categories.txt' in str(error.value)


def test_places205_wrong_number_of_class_names(places_root: Path) -> None:
    with pytest.raises(ValueError,
                       match='3 class names given but Places205 has 205'):
        DATASETS.build(places_cfg(places_root, classes=['a', 'b', 'c']))


# ------------------------------------------------------------------ INat18
# non-contiguous category ids (the official ones are 0..8141)
INAT_CATEGORIES = {7: 'Plantae sp. 7', 3: 'Aves sp. 3', 12: 'Fungi sp. 12'}
INAT_IMAGES = [  # (image id, super category, category id)
    (501, 'Plantae', 7), (502, 'Aves', 3), (503, 'Fungi', 12),
    (504, 'Plantae', 7), (505, 'Aves', 3)]
INAT_LABELS = {3: 0, 7: 1, 12: 2}


def inat_content() -> Dict[str, list]:
    """An annotation file with the keys of the released train2018.json."""
    images, annotations = [], []
    for position, (image_id, supercategory, category_id) in enumerate(
            INAT_IMAGES):
        images.append(
            dict(
                id=image_id,
                file_name=f'train_val2018/{supercategory}/{category_id}/'
                f'{image_id:032x}.jpg',
                width=48,
                height=40,
                license=3,
                rights_holder='someone'))
        annotations.append(
            dict(id=position, image_id=image_id, category_id=category_id))
    categories = [
        dict(
            id=category_id,
            name=name,
            supercategory=name.split()[0],
            kingdom='Plantae' if category_id == 7 else 'Animalia',
            phylum='p',
            **{'class': 'c'},
            order='o',
            family='f',
            genus='g') for category_id, name in INAT_CATEGORIES.items()
    ]
    return dict(
        info=dict(year=2018, version='1.0', description='iNat 2018'),
        images=images,
        annotations=annotations,
        categories=categories,
        licenses=[dict(id=3, name='CC', url='')])


@pytest.fixture
def inat_root(tmp_path: Path) -> Path:
    """iNat18 as released: the JSON and train_val2018/<super>/<id>/*.jpg."""
    root = tmp_path / 'inat18'
    content = inat_content()
    for image, annotation in zip(content['images'], content['annotations']):
        write_jpeg(root / image['file_name'],
                   INAT_LABELS[annotation['category_id']])
    write_inat(root, content)
    return root


def write_inat(root: Path, content: dict) -> None:
    """Write ``train2018.json``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / 'train2018.json').write_text(json.dumps(content))


def inat_cfg(root: Path, **kwargs) -> dict:
    """An INat18 dataset config on ``root``."""
    cfg = dict(type='INat18', data_root=str(root), ann_file='train2018.json')
    cfg.update(kwargs)
    return cfg


def test_inat18_reads_json(inat_root: Path) -> None:
    dataset = DATASETS.build(inat_cfg(inat_root))
    assert isinstance(dataset, INat18)
    assert len(dataset) == len(INAT_IMAGES)
    assert dataset.get_gt_labels().tolist() == [
        INAT_LABELS[category] for _, _, category in INAT_IMAGES]
    assert dataset.category_to_label == INAT_LABELS
    assert dataset.metainfo['classes'] == ('Aves sp. 3', 'Plantae sp. 7',
                                           'Fungi sp. 12')
    assert dataset.get_data_info(0)['img_path'] == str(
        inat_root / 'train_val2018' / 'Plantae' / '7' / f'{501:032x}.jpg')


def test_inat18_categories_file_gives_names(inat_root: Path) -> None:
    names = [dict(id=i, name=f'Species {i}') for i in (12, 3, 7)]
    (inat_root / 'categories.json').write_text(json.dumps(names))
    dataset = DATASETS.build(
        inat_cfg(inat_root, categories_file='categories.json'))
    assert dataset.metainfo['classes'] == ('Species 3', 'Species 7',
                                           'Species 12')
    # a categories file that lacks a used category
    (inat_root / 'categories.json').write_text(json.dumps(names[1:]))
    with pytest.raises(ValueError, match='annotation 2 refers to category '
                       'id 12.*categories.json'):
        DATASETS.build(inat_cfg(inat_root, categories_file='categories.json'))


def test_inat18_lazy_init(inat_root: Path) -> None:
    json_file = inat_root / 'train2018.json'
    text = json_file.read_text()
    json_file.unlink()
    dataset = DATASETS.build(inat_cfg(inat_root, lazy_init=True))
    json_file.write_text(text)
    assert len(dataset) == len(INAT_IMAGES)
    assert len(dataset.metainfo['classes']) == 3


def test_inat18_dataloader_pipeline(inat_root: Path) -> None:
    sample_labels, image_labels = loader_labels(inat_cfg(inat_root))
    expected = [INAT_LABELS[category] for _, _, category in INAT_IMAGES]
    assert sample_labels == image_labels == expected


def drop_key(content: dict, section: str, key: str) -> None:
    """Remove ``key`` from the second entry of ``section``."""
    del content[section][1][key]


@pytest.mark.parametrize('change, error_type, message', [
    (lambda c: c.pop('annotations'), KeyError, 'no "annotations" list'),
    (lambda c: drop_key(c, 'images', 'file_name'), KeyError,
     r'images\[1\] has no "file_name"'),
    (lambda c: drop_key(c, 'annotations', 'category_id'), KeyError,
     r'annotations\[1\] has no "category_id"'),
    (lambda c: drop_key(c, 'categories', 'name'), KeyError,
     r'categories\[1\] has no "name"'),
    (lambda c: c['annotations'].pop(2), ValueError,
     r'1 image\(s\) have no annotation, e.g. image id 503'),
    (lambda c: c['annotations'][3].update(image_id=999), ValueError,
     'annotation 3 refers to image id 999'),
    (lambda c: c['annotations'][4].update(category_id=8), ValueError,
     'annotation 4 refers to category id 8'),
    (lambda c: c['annotations'][4].update(image_id=501), ValueError,
     'image id 501 has a second annotation'),
    (lambda c: c['images'][4].update(id=501), ValueError,
     'image id 501 appears twice'),
    (lambda c: c['categories'][2].update(id=7), ValueError,
     'category id 7 appears twice'),
])
def test_inat18_bad_annotations(inat_root: Path, change, error_type,
                                message: str) -> None:
    content = inat_content()
    change(content)
    write_inat(inat_root, content)
    with pytest.raises(error_type, match=message) as error:
        DATASETS.build(inat_cfg(inat_root))
    assert str(inat_root / 'train2018.json') in str(error.value)


def test_inat18_missing_or_broken_file(inat_root: Path) -> None:
    with pytest.raises(FileNotFoundError, match='val2018.json not found'):
        DATASETS.build(inat_cfg(inat_root, ann_file='val2018.json'))
    (inat_root / 'train2018.json').write_text('{"images": [')
    with pytest.raises(ValueError, match='train2018.json is not valid JSON'):
        DATASETS.build(inat_cfg(inat_root))


def test_inat18_classes_argument(inat_root: Path) -> None:
    dataset = DATASETS.build(inat_cfg(inat_root, classes=['a', 'b', 'c']))
    assert dataset.metainfo['classes'] == ('a', 'b', 'c')
    with pytest.raises(ValueError, match='2 class names given but .*'
                       'train2018.json has 3 classes'):
        DATASETS.build(inat_cfg(inat_root, classes=['a', 'b']))
    with pytest.raises(ValueError, match='not both'):
        DATASETS.build(
            inat_cfg(inat_root, classes=['a', 'b', 'c'],
                     categories_file='categories.json'))
