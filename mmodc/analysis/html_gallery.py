"""An offline HTML report of the clusters of an image folder: static pages
with relative links only, split so that no page grows with the folder.

Pages (in the report folder): ``index.html`` (+ ``index-2.html`` ...): the
summary, the figures and the clusters by size with their most typical
thumbnails; ``cluster-<id>.html``: the most and least typical members, with
``cluster-<id>-members-<p>.html`` listing all; ``outliers.html``: the
images least like their cluster; ``duplicates-<p>.html``: the most similar
pairs; ``unreadable-<p>.html``: the files that could not be read.
Thumbnails are made for the images shown only, in ``thumbs/``.
"""
import html
import os
import os.path as osp
from dataclasses import dataclass, field
from multiprocessing import Pool
from typing import Dict, Iterable, List, Sequence, Tuple
from urllib.parse import quote

import numpy as np
from PIL import Image
from tqdm import tqdm

CLUSTERS_PER_PAGE = 50
TYPICAL_SHOWN = 30
INDEX_THUMBNAILS = 10
MEMBERS_PER_PAGE = 1000
OUTLIERS_SHOWN = 100
PAIRS_PER_PAGE = 100
PAIRS_SHOWN = 1000
FILES_PER_PAGE = 1000

STYLE = """body { font-family: sans-serif; margin: 1em 2em; color: #222; }
nav a { margin-right: 1.2em; }
table { border-collapse: collapse; }
td, th { padding: 2px 8px; text-align: left; vertical-align: middle; }
tr:nth-child(even) { background: #f3f3f3; }
.thumbs { display: flex; flex-wrap: wrap; gap: 6px; }
.thumbs figure { margin: 0; text-align: center; font-size: 11px; }
img.thumb { display: block; height: 72px; max-width: 144px;
            border: 1px solid #ccc; image-rendering: pixelated; }
img.figure { max-width: 100%; }
"""


@dataclass
class GalleryContent:
    """What the report shows.

    Attributes:
        root (str): The image folder.
        paths (list[str]): The readable images, relative to ``root``.
        clusters (np.ndarray): ``N`` cluster ids.
        similarity (np.ndarray): ``N`` similarities to the centroid.
        ranks (np.ndarray): ``N`` ranks inside the cluster (0: most
            typical).
        pairs (np.ndarray): ``M x 2`` near-duplicate rows, most similar
            first, with ``pair_similarity`` (``M``).
        unreadable (list[tuple[str, str]]): ``(path, reason)`` of the
            files that could not be read.
        summary (dict[str, str]): Lines of the summary table.
        figures (list[tuple[str, str]]): ``(title, file name)`` of the
            pictures, in the report folder.
        cluster_folders (dict[int, str]): Each cluster's folder of
            links, relative to the report folder.
    """
    root: str
    paths: List[str]
    clusters: np.ndarray
    similarity: np.ndarray
    ranks: np.ndarray
    pairs: np.ndarray
    pair_similarity: np.ndarray
    unreadable: List[Tuple[str, str]] = field(default_factory=list)
    summary: Dict[str, str] = field(default_factory=dict)
    figures: List[Tuple[str, str]] = field(default_factory=list)
    cluster_folders: Dict[int, str] = field(default_factory=dict)


class HtmlGallery:
    """Writes the pages of :class:`GalleryContent` into a folder.

    Args:
        content (GalleryContent): What to show.
        out_dir (str): The report folder.
        thumb_size (int): Longest side of a thumbnail in pixels.
        num_workers (int): Processes making thumbnails (0: this one).
    """

    def __init__(self, content: GalleryContent, out_dir: str,
                 thumb_size: int = 96, num_workers: int = 0) -> None:
        self.content = content
        self.out_dir = out_dir
        self.thumb_size = thumb_size
        self.num_workers = num_workers
        self.shown = set()
        num_clusters = int(content.clusters.max()) + 1
        self.sizes = np.bincount(content.clusters, minlength=num_clusters)
        # members of every cluster, most typical first
        order = np.lexsort((content.ranks, content.clusters))
        self.members = np.split(order, np.cumsum(self.sizes)[:-1])
        self.by_size = np.lexsort((np.arange(num_clusters), -self.sizes))
        self.by_size = self.by_size[self.sizes[self.by_size] > 0]

    def write(self) -> str:
        """Write every page and the thumbnails they show.

        Returns:
            str: The path of ``index.html``.
        """
        os.makedirs(osp.join(self.out_dir, 'thumbs'), exist_ok=True)
        with open(osp.join(self.out_dir, 'style.css'), 'w') as file:
            file.write(STYLE)
        self._write_index_pages()
        for cluster in tqdm(self.by_size, desc='cluster pages',
                            unit='cluster', leave=False):
            self._write_cluster_pages(int(cluster))
        self._write_outliers()
        self._write_duplicates()
        self._write_unreadable()
        self._make_thumbnails()
        return osp.join(self.out_dir, 'index.html')

    # pages

    def _write_index_pages(self) -> None:
        pages = _chunks(self.by_size, CLUSTERS_PER_PAGE)
        for number, clusters in enumerate(pages, 1):
            parts = [self._summary()] if number == 1 else []
            rows = [self._cluster_row(int(c)) for c in clusters]
            parts.append(_table(('cluster', 'images', 'mean similarity',
                                 'most typical'), rows))
            parts.append(_pager('index', number, len(pages)))
            self._page(_numbered('index', number),
                       f'Clusters by size, page {number}', parts)

    def _summary(self) -> str:
        content = self.content
        rows = [(html.escape(key), html.escape(value))
                for key, value in content.summary.items()]
        figures = ''.join(
            f'<h3>{html.escape(title)}</h3><img class="figure" '
            f'src="{quote(name)}" alt="{html.escape(title)}">'
            for title, name in content.figures)
        return _table(('', ''), rows) + figures + '<h2>Clusters</h2>'

    def _cluster_row(self, cluster: int) -> Tuple[str, ...]:
        members = self.members[cluster]
        return (f'<a href="{_cluster_page(cluster)}">{cluster}</a>',
                str(len(members)),
                f'{self.content.similarity[members].mean():.3f}',
                self._thumbnails(members[:INDEX_THUMBNAILS], captions=False))

    def _write_cluster_pages(self, cluster: int) -> None:
        members = self.members[cluster]
        member_pages = _chunks(members, MEMBERS_PER_PAGE)
        parts = [f'<p>{len(members)} images; all of them on '
                 + ', '.join(
                     f'<a href="{_members_page(cluster, n)}">page {n}</a>'
                     for n in range(1, len(member_pages) + 1)) + '.']
        folder = self.content.cluster_folders.get(cluster)
        if folder:
            parts.append(f' Links to them in <a href="{quote(folder)}/">'
                         f'{html.escape(folder)}</a>.')
        parts.append('</p><h2>Most typical</h2>')
        parts.append(self._thumbnails(members[:TYPICAL_SHOWN]))
        if len(members) > TYPICAL_SHOWN:
            parts.append('<h2>Least typical</h2>')
            parts.append(self._thumbnails(
                members[max(TYPICAL_SHOWN, len(members) - TYPICAL_SHOWN):]
                [::-1]))
        self._page(_cluster_page(cluster), f'Cluster {cluster}', parts)
        for number, rows in enumerate(member_pages, 1):
            self._page(
                _members_page(cluster, number),
                f'Cluster {cluster}: images, page {number}',
                [self._member_table(rows),
                 _pager(f'cluster-{cluster:05d}-members', number,
                        len(member_pages))])

    def _member_table(self, rows: np.ndarray) -> str:
        content = self.content
        return _table(('rank', 'image', 'similarity to the centroid'), [
            (str(content.ranks[row] + 1), self._image_link(row),
             f'{content.similarity[row]:.3f}') for row in rows
        ])

    def _write_outliers(self) -> None:
        rows = np.argsort(self.content.similarity,
                          kind='stable')[:OUTLIERS_SHOWN]
        self._page('outliers.html', 'Outliers', [
            f'<p>The {len(rows)} images least similar to the centroid of '
            'their cluster, least similar first.</p>',
            self._thumbnails(rows, show_cluster=True)
        ])

    def _write_duplicates(self) -> None:
        content = self.content
        shown = content.pairs[:PAIRS_SHOWN]
        pages = _chunks(np.arange(len(shown)), PAIRS_PER_PAGE) or [[]]
        for number, indices in enumerate(pages, 1):
            rows = [(f'{content.pair_similarity[i]:.4f}',
                     self._thumbnails(content.pairs[i], show_cluster=True))
                    for i in indices]
            self._page(_numbered('duplicates', number),
                       f'Near-duplicates, page {number}', [
                           f'<p>{len(content.pairs)} pairs in all '
                           f'(duplicates.csv); the {len(shown)} most '
                           'similar here.</p>',
                           _table(('similarity', 'pair'), rows),
                           _pager('duplicates', number, len(pages))])

    def _write_unreadable(self) -> None:
        files = self.content.unreadable
        pages = _chunks(files, FILES_PER_PAGE) or [[]]
        for number, chunk in enumerate(pages, 1):
            rows = [(html.escape(path), html.escape(reason))
                    for path, reason in chunk]
            self._page(_numbered('unreadable', number),
                       f'Unreadable files, page {number}', [
                           f'<p>{len(files)} files could not be read and '
                           'are in no cluster.</p>',
                           _table(('file', 'why'), rows),
                           _pager('unreadable', number, len(pages))])

    # pieces

    def _thumbnails(self, rows: Iterable[int], captions: bool = True,
                    show_cluster: bool = False) -> str:
        figures = []
        for row in rows:
            row = int(row)
            self.shown.add(row)
            caption = ''
            if captions:
                text = f'{self.content.similarity[row]:.3f}'
                if show_cluster:
                    cluster = int(self.content.clusters[row])
                    text = (f'<a href="{_cluster_page(cluster)}">cluster '
                            f'{cluster}</a> {text}')
                caption = f'<figcaption>{text}</figcaption>'
            figures.append(
                f'<figure><a href="{self._image_href(row)}" title='
                f'"{html.escape(self.content.paths[row])}"><img '
                f'class="thumb" src="{_thumb_name(row)}" alt="'
                f'{html.escape(osp.basename(self.content.paths[row]))}">'
                f'</a>{caption}</figure>')
        return f'<div class="thumbs">{"".join(figures)}</div>'

    def _image_href(self, row: int) -> str:
        target = osp.join(self.content.root, self.content.paths[row])
        return quote(osp.relpath(target, self.out_dir))

    def _image_link(self, row: int) -> str:
        return (f'<a href="{self._image_href(row)}">'
                f'{html.escape(self.content.paths[row])}</a>')

    def _page(self, name: str, title: str, parts: Sequence[str]) -> None:
        nav = ' '.join(
            f'<a href="{href}">{label}</a>'
            for label, href in (('Clusters', 'index.html'),
                                ('Outliers', 'outliers.html'),
                                ('Near-duplicates', 'duplicates.html'),
                                ('Unreadable files', 'unreadable.html')))
        with open(osp.join(self.out_dir, name), 'w') as file:
            file.write(
                '<!DOCTYPE html><html><head><meta charset="utf-8">'
                f'<title>{html.escape(title)}</title><link '
                'rel="stylesheet" href="style.css"></head><body>'
                f'<nav>{nav}</nav><h1>{html.escape(title)}</h1>'
                + ''.join(parts) + '</body></html>\n')

    def _make_thumbnails(self) -> None:
        jobs = [(osp.join(self.content.root, self.content.paths[row]),
                 osp.join(self.out_dir, _thumb_name(row)), self.thumb_size)
                for row in sorted(self.shown)]
        progress = dict(total=len(jobs), desc='thumbnails', unit='image',
                        leave=False)
        if self.num_workers:
            with Pool(self.num_workers) as pool:
                for _ in tqdm(pool.imap_unordered(make_thumbnail, jobs, 64),
                              **progress):
                    pass
        else:
            for job in tqdm(jobs, **progress):
                make_thumbnail(job)


def make_thumbnail(job: Tuple[str, str, int]) -> None:
    """Save a JPEG thumbnail of an image.

    Args:
        job (tuple): Source path, thumbnail path and longest side.
    """
    source, target, size = job
    with Image.open(source) as image:
        image.draft('RGB', (size, size))  # fast JPEG downscale on decode
        image = image.convert('RGB')
        image.thumbnail((size, size))
        image.save(target, quality=85)


def _chunks(items: Sequence, size: int) -> List:
    """``items`` in consecutive pieces of ``size``."""
    return [items[start:start + size] for start in range(0, len(items),
                                                          size)]


def _numbered(stem: str, number: int) -> str:
    """``stem.html`` for page 1, ``stem-<n>.html`` after."""
    return f'{stem}.html' if number == 1 else f'{stem}-{number}.html'


def _cluster_page(cluster: int) -> str:
    return f'cluster-{cluster:05d}.html'


def _members_page(cluster: int, number: int) -> str:
    return _numbered(f'cluster-{cluster:05d}-members', number)


def _thumb_name(row: int) -> str:
    return f'thumbs/{row:08d}.jpg'


def _pager(stem: str, number: int, count: int) -> str:
    """Links to the other pages of a paged view (nothing for one page)."""
    if count <= 1:
        return ''
    links = [
        f'<b>{n}</b>' if n == number else
        f'<a href="{_numbered(stem, n)}">{n}</a>' for n in range(1, count + 1)
    ]
    return f'<p>Pages: {" ".join(links)}</p>'


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """An HTML table of already escaped cells."""
    head = ''.join(f'<th>{cell}</th>' for cell in header)
    body = ''.join('<tr>' + ''.join(f'<td>{cell}</td>' for cell in row)
                   + '</tr>' for row in rows)
    return f'<table><tr>{head}</tr>{body}</table>'
