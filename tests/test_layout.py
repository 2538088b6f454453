"""The package layout the style rules ask for: metrics never import
drivers or hooks."""
import ast
from pathlib import Path
from typing import Iterator

PACKAGE = Path(__file__).resolve().parents[1] / 'mmodc'


def imported_modules(path: Path) -> Iterator[str]:
    """Absolute names of the modules one file imports (relative ones
    resolved against its package)."""
    package = '.'.join(path.relative_to(PACKAGE.parent).parent.parts)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit('.', node.level - 1)[0]
                yield f'{base}.{node.module}' if node.module else base
            else:
                yield node.module


def test_imported_modules_resolves_relative_imports() -> None:
    names = set(imported_modules(PACKAGE / 'evaluation' / '__init__.py'))
    assert {'mmodc.evaluation.feature_eval', 'mmodc.evaluation.functional',
            'mmpretrain.evaluation'} <= names
    names = set(imported_modules(PACKAGE / 'analysis' / 'odc_report.py'))
    assert 'mmodc.analysis.cluster_plots' in names
    assert 'mmodc.engine.extractor' in names


def test_evaluation_holds_no_drivers() -> None:
    offending = {
        f'{path.relative_to(PACKAGE.parent)} imports {name}'
        for path in sorted((PACKAGE / 'evaluation').rglob('*.py'))
        for name in imported_modules(path)
        if name.startswith(('mmodc.engine', 'mmodc.analysis',
                            'mmengine.runner'))
    }
    assert not offending, sorted(offending)
