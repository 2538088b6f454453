"""Install mmodc (OpenMMLab style, with the ``.mim`` extension).

``mim train mmodc CONFIG``, ``mim test`` and ``mim run`` look for the
package's scripts and configs in ``<installed package>/.mim/``. This script
puts ``tools/``, ``configs/`` and ``model-index.yml`` there:

- ``pip install .`` (and every wheel or sdist built from the tree) copies
  them into the built package;
- ``pip install -e .`` (PEP 660, ``editable_wheel``) installs a ``.mim`` in
  site-packages whose Python tools run the source tree's scripts (on the
  source tree's file of a config mim found by name) and whose
  ``model-index.yml`` imports the source tree's, so ``mim train``, ``test``,
  ``run`` and ``search`` see edits without reinstalling, and links them in
  the source tree's ``mmodc/.mim`` as well. Its file names, and the configs
  ``mim download`` dumps, are those of install time: a config or tool added
  later is found by name once ``pip install -e .`` has run again (a wheel
  cannot hold a link to the source tree);
- ``python setup.py develop`` (setuptools < 80) links them in the source
  tree's ``mmodc/.mim``.
"""
import json
import os
import shutil
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py
from setuptools.command.develop import develop

try:  # PEP 660 editable installs (setuptools >= 64)
    from setuptools.command.editable_wheel import editable_wheel
except ImportError:  # pragma: no cover
    editable_wheel = None

ROOT = Path(__file__).resolve().parent
PACKAGE = 'mmodc'
MIM_RESOURCES = ('tools', 'configs', 'model-index.yml')
_SKIPPED_PARTS = ('__pycache__', )
_SKIPPED_SUFFIXES = ('.pyc', '.pyo')


def readme() -> str:
    """Return the README as the long description."""
    path = ROOT / 'README.md'
    return path.read_text(encoding='utf-8') if path.is_file() else ''


def get_version() -> str:
    """Read ``__version__`` from ``mmodc/version.py`` without importing."""
    namespace: Dict[str, Any] = {}
    exec((ROOT / PACKAGE / 'version.py').read_text(), namespace)
    return namespace['__version__']


def parse_requirements(fname: str) -> List[str]:
    """Read the requirement specifiers of a requirements file.

    Comments, blank lines and pip options are dropped; ``-r other.txt``
    includes are followed (relative to the including file).

    Args:
        fname (str): Path of the file, relative to this directory.

    Returns:
        list[str]: PEP 508 specifiers, e.g. ``'torch==2.14.1'``.
    """
    path = ROOT / fname
    requirements = []
    for line in path.read_text().splitlines():
        line = line.split('#', 1)[0].strip()
        if line.startswith(('-r ', '--requirement ')):
            include = line.split(maxsplit=1)[1]
            requirements += parse_requirements(
                str((path.parent / include).relative_to(ROOT)))
        elif line and not line.startswith('-'):
            requirements.append(line)
    return requirements


def iter_mim_files() -> Iterator[Tuple[Path, str]]:
    """Yield every file of the mim resources.

    Yields:
        tuple[Path, str]: The file in the source tree and its path relative
        to ``.mim`` (POSIX separators).
    """
    for name in MIM_RESOURCES:
        src = ROOT / name
        files = sorted(src.rglob('*')) if src.is_dir() else [src]
        for path in files:
            if (not path.is_file() or path.suffix in _SKIPPED_SUFFIXES
                    or any(part in _SKIPPED_PARTS for part in path.parts)):
                continue
            yield path, path.relative_to(ROOT).as_posix()


def copy_mim_resources(mim_dir: Path) -> None:
    """Fill ``mim_dir`` with copies of the mim resources (stale ones go).

    Args:
        mim_dir (Path): The ``.mim`` directory of a built package.
    """
    if mim_dir.is_symlink() or mim_dir.is_file():
        mim_dir.unlink()
    elif mim_dir.is_dir():
        shutil.rmtree(mim_dir)
    for src, rel in iter_mim_files():
        dst = mim_dir / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)


def link_mim_resources(mim_dir: Path) -> None:
    """Make ``mim_dir/<resource>`` relative symlinks to the source tree.

    Falls back to copies where the file system has no symlinks.

    Args:
        mim_dir (Path): The ``.mim`` directory of the source package.
    """
    mim_dir.mkdir(exist_ok=True)
    for name in MIM_RESOURCES:
        src, dst = ROOT / name, mim_dir / name
        if dst.is_symlink() or dst.is_file():
            dst.unlink()
        elif dst.is_dir():
            shutil.rmtree(dst)
        if not src.exists():
            continue
        try:
            dst.symlink_to(os.path.relpath(src, mim_dir),
                           target_is_directory=src.is_dir())
        except OSError:
            if src.is_dir():
                shutil.copytree(src, dst)
            else:
                shutil.copy2(src, dst)


class BuildPy(build_py):
    """``build_py`` that also copies the mim resources into the build."""

    def _mim_dir(self) -> Path:
        return Path(self.build_lib, PACKAGE, '.mim')

    def run(self) -> None:
        """Build the package, then its ``.mim`` (not for editable builds)."""
        super().run()
        if not getattr(self, 'editable_mode', False):
            copy_mim_resources(self._mim_dir())

    def get_outputs(self, include_bytecode: bool = True) -> List[str]:
        """Outputs of ``build_py`` plus the files of ``.mim``."""
        mim_files = [str(p) for p in self._mim_dir().rglob('*') if p.is_file()]
        return super().get_outputs(include_bytecode) + mim_files


class Develop(develop):
    """``develop`` that links the mim resources in the source package."""

    def run(self) -> None:
        """Link ``mmodc/.mim``, then run the usual ``develop``."""
        link_mim_resources(ROOT / PACKAGE / '.mim')
        super().run()


_EDITABLE_TOOL = '''\
"""Run {script!r} of mmodc's source tree (editable install).

Written by mmodc's setup.py for ``pip install -e``: mim finds this file in the
installed package and what runs is the source tree's script, so edits there
take effect without reinstalling. A config inside this ``.mim/configs`` (mim
passes one when it finds a config by name) becomes the source tree's file.
"""
import os.path as osp
import runpy
import sys

SOURCE_ROOT = {root!r}
SCRIPT = osp.join(SOURCE_ROOT, {script!r})
MIM_CONFIGS = osp.normpath(
    osp.join(osp.dirname(osp.realpath(__file__)), {up!r}, 'configs')) + osp.sep


def to_source(arg):
    """Map a path inside this ``.mim/configs`` to the source tree."""
    path = osp.realpath(arg)
    if path.startswith(MIM_CONFIGS):
        source = osp.join(SOURCE_ROOT, 'configs', path[len(MIM_CONFIGS):])
        if osp.isfile(source):
            return source
    return arg


sys.argv = [SCRIPT] + [to_source(arg) for arg in sys.argv[1:]]
sys.path[0] = osp.dirname(SCRIPT)
runpy.run_path(SCRIPT, run_name='__main__')
'''

_EDITABLE_MODEL_INDEX = '''\
# Written by mmodc's setup.py for `pip install -e`: `mim search` and
# `mim download` read the source tree's model index and metafiles.
Import:
  - {path}
'''


class _MimEditableStrategy:
    """Wrap a setuptools editable strategy to add ``mmodc/.mim`` to the wheel.

    mim looks for tools in ``<dist location>/<top-level name>/.mim``, which
    for an editable install is ``site-packages/mmodc/.mim`` although the code
    is imported from the source tree. That directory holds no
    ``__init__.py``, so it is at most a namespace portion, and the regular
    package of the source tree (on ``sys.path`` through the strategy's
    ``.pth`` file) is what ``import mmodc`` finds.

    Args:
        strategy: The strategy setuptools chose (a ``.pth`` file strategy).
    """

    def __init__(self, strategy: Any) -> None:
        self.strategy = strategy

    def __enter__(self) -> '_MimEditableStrategy':
        self.strategy.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> Any:
        return self.strategy.__exit__(*exc_info)

    def __call__(self, wheel: Any, files: List[str],
                 mapping: Dict[str, str]) -> None:
        """Write the strategy's files, then ``mmodc/.mim``."""
        self.strategy(wheel, files, mapping)
        for src, rel in iter_mim_files():
            arcname = f'{PACKAGE}/.mim/{rel}'
            if rel == 'model-index.yml':
                wheel.writestr(
                    arcname,
                    _EDITABLE_MODEL_INDEX.format(path=json.dumps(str(src))))
            elif rel.startswith('tools/') and src.suffix == '.py':
                up = os.path.relpath('.', os.path.dirname(rel))
                wheel.writestr(
                    arcname,
                    _EDITABLE_TOOL.format(root=str(ROOT), script=rel, up=up))
            else:
                wheel.write(str(src), arcname)


cmdclass: Dict[str, Any] = {'build_py': BuildPy, 'develop': Develop}

if editable_wheel is not None:

    class EditableWheel(editable_wheel):
        """PEP 660 editable wheel that also carries ``mmodc/.mim``."""

        def run(self) -> None:
            """Link the source ``mmodc/.mim``, then build the wheel."""
            link_mim_resources(ROOT / PACKAGE / '.mim')
            super().run()

        def _select_strategy(self, name: str, tag: str,
                             build_lib: str) -> _MimEditableStrategy:
            strategy = super()._select_strategy(name, tag, build_lib)
            if not hasattr(strategy, 'path_entries'):
                # An import-hook strategy would let site-packages/mmodc
                # shadow the source package: leave the wheel as it is.
                return strategy
            return _MimEditableStrategy(strategy)

    cmdclass['editable_wheel'] = EditableWheel

if __name__ == '__main__':
    setup(
        name='mmodc',
        version=get_version(),
        description='Online Deep Clustering and DeepCluster for MMEngine '
        'and MMPretrain',
        long_description=readme(),
        long_description_content_type='text/markdown',
        keywords='self-supervised learning, deep clustering, ODC, '
        'DeepCluster, OpenMMLab',
        license='Apache-2.0',
        classifiers=[
            'Development Status :: 4 - Beta',
            'Operating System :: OS Independent',
            'Programming Language :: Python :: 3',
            'Programming Language :: Python :: 3.11',
            'Topic :: Scientific/Engineering :: Artificial Intelligence',
        ],
        python_requires='>=3.9',
        # `package_dir` {'': '.'} makes a PEP 660 editable install a plain
        # `.pth` entry of this directory (no import hook), see EditableWheel.
        package_dir={'': '.'},
        packages=find_packages(include=[PACKAGE, f'{PACKAGE}.*']),
        install_requires=parse_requirements('requirements/runtime.txt'),
        extras_require={
            'mim': parse_requirements('requirements/mim.txt'),
            'tests': parse_requirements('requirements/tests.txt'),
        },
        cmdclass=cmdclass,
        zip_safe=False,
    )
