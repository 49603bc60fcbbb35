"""tools/render_check.py: the byte comparison finds a changed number, a missing and an extra file, ignores executed
notebooks and images; stamping rewrites only code_version; a folder without finished runs is refused by name."""
import json, subprocess, sys, pathlib, importlib.util

ROOT = pathlib.Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location('render_check', ROOT / 'tools' / 'render_check.py')
rc = importlib.util.module_from_spec(spec); spec.loader.exec_module(rc)

def _tree(root, files):
    for rel, text in files.items():
        p = root / rel; p.parent.mkdir(parents=True, exist_ok=True); p.write_text(text)

def test_compare(tmp_path):
    a, b = tmp_path / 'a', tmp_path / 'b'
    same = {'tables/table_I.md': '| J | 41.60 |\n', 'audio/audio_swap.json': '{"moved": 0.604}'}
    _tree(a, dict(same, **{'tables/claims.json': '{"d": 2.09}', 'mi/mi.json': '{}', 'notebooks/tables.ipynb': 'x',
                           'tables/table_I.png': 'p'}))
    _tree(b, dict(same, **{'tables/claims.json': '{"d": 2.10}', 'failures/S4/failures.md': '', 'notebooks/tables.ipynb': 'y',
                           'tables/table_I.png': 'q'}))
    r = rc.compare(a, b)
    assert r == dict(differ=['tables/claims.json'], only_before=['mi/mi.json'], only_after=['failures/S4/failures.md'], same=2)
    assert rc.compare(a, a) == dict(differ=[], only_before=[], only_after=[], same=4)

def test_stamp(tmp_path):
    (tmp_path / 'r1').mkdir()
    (tmp_path / 'r1' / 'config.json').write_text(json.dumps(dict(seed=123, code_version='000000000000')))
    v = rc.stamp(tmp_path, ROOT)
    d = json.loads((tmp_path / 'r1' / 'config.json').read_text())
    assert len(v) == 12 and v != '000000000000' and d == dict(seed=123, code_version=v)

def test_refuses_a_folder_without_runs(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / 'tools' / 'render_check.py'), str(tmp_path), '--preset', 'quick',
                        '--before', 'HEAD'], capture_output=True, text=True)
    assert r.returncode == 2 and 'no finished runs' in r.stderr and str(tmp_path.name) in r.stderr
