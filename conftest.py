"""pytest hooks for `make test`: notebook cells flagged `#| slow` (settings.ini's `tst_flags`, the nbdev convention)
are skipped unless `pytest --slow` or `AVS_SLOW=1` (`make test-slow`); `nbdev_test --flags slow` honours the same flag."""
import os, re
import pytest

SLOW = re.compile(r'^\s*#\s*\|\s*slow\b', re.M)

def pytest_addoption(parser):
    parser.addoption('--slow', action='store_true', default=False, help='also run the notebook cells flagged #| slow')

def is_slow(item) -> bool:
    "An nbval cell whose source carries the `#| slow` directive (or a test marked `@pytest.mark.slow`)."
    cell = getattr(item, 'cell', None)
    src = cell.get('source', '') if isinstance(cell, dict) else getattr(cell, 'source', '')
    return bool(SLOW.search(''.join(src))) or item.get_closest_marker('slow') is not None

def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: a slow test, run only with --slow or AVS_SLOW=1')

def pytest_collection_modifyitems(config, items):
    if config.getoption('--slow') or os.environ.get('AVS_SLOW') == '1': return
    skip = pytest.mark.skip(reason='flagged slow: run with `make test-slow` (pytest --slow)')
    for item in items:
        if is_slow(item): item.add_marker(skip)
