"""Repository hygiene: notebooks are the source, committed clean; experiment notebooks keep their papermill tag."""
import json, pathlib, re
ROOT = pathlib.Path(__file__).resolve().parent.parent
NBS = sorted(p for p in (ROOT / 'nbs').glob('*.ipynb'))
EXPERIMENTS = ['train', 'evaluate', 'tables', 'figures', 'failure_cases', 'mi_analysis', 'demo', 'gallery']

def _nb(p): return json.loads(p.read_text())

def test_notebooks_have_no_outputs():
    dirty = [p.name for p in NBS if any(c.get('outputs') or c.get('execution_count')
                                        for c in _nb(p)['cells'] if c['cell_type'] == 'code')]
    assert not dirty, f'notebooks committed with outputs: {dirty}'

def test_module_notebooks_are_chapters():
    "Each module notebook: default_exp first, then a '# title' + '> summary' markdown cell, and an nbdev_export cell."
    for p in NBS:
        cells = _nb(p)['cells']
        src = [''.join(c['source']) for c in cells]
        m = re.match(r'#\|\s*default_exp\s+(\S+)', src[0])
        if not m: continue
        md = next(s for c, s in zip(cells, src) if c['cell_type'] == 'markdown')
        assert md.startswith('# ') and '\n> ' in md, f'{p.name}: first markdown cell must be "# title" then "> summary"'
        assert any('nbdev_export()' in s for s in src[-2:]), f'{p.name}: last cells must call nbdev_export()'
        assert any('#| export' in s for s in src), f'{p.name}: exports nothing'

def test_module_docstrings_are_whole_sentences():
    "nbdev makes the '> summary' line the module's docstring: a summary wrapped over two '>' lines would stop mid-sentence."
    short = []
    for f in sorted((ROOT / 'avs_cldm').rglob('*.py')):
        if f.name in ('__init__.py', '_modidx.py'): continue
        first = f.read_text().split('\n', 1)[0]
        if not (first.startswith('"""') and re.search(r'[.?!)`]"""$', first)): short.append(f'{f.relative_to(ROOT)}: {first[:80]}')
    assert not short, 'module docstrings that stop mid-sentence (write the > summary on one line):\n' + '\n'.join(short)

def test_experiment_notebooks_have_parameters_and_no_exports():
    for name in EXPERIMENTS:
        p = ROOT / 'nbs' / f'{name}.ipynb'
        if not p.exists(): continue
        cells = _nb(p)['cells']
        assert any('parameters' in c.get('metadata', {}).get('tags', []) for c in cells), f'{p.name}: no parameters cell'
        assert not any(''.join(c['source']).lstrip().startswith('#| export') for c in cells), f'{p.name}: must not export'

def test_papermill_sees_every_parameter():
    "papermill skips a parameters-cell line with two '=' (e.g. one in the comment): such a parameter could not be set."
    import papermill as pm
    for name in EXPERIMENTS:
        p = ROOT / 'nbs' / f'{name}.ipynb'
        if not p.exists(): continue
        cell = next(c for c in _nb(p)['cells'] if 'parameters' in c.get('metadata', {}).get('tags', []))
        assigned = re.findall(r'^(\w+)\s*=', ''.join(cell['source']), re.M)
        seen = set(pm.inspect_notebook(str(p)))
        assert set(assigned) <= seen, f'{p.name}: papermill cannot set {sorted(set(assigned) - seen)}'

def test_settings_keep_papermill_tags():
    ini = (ROOT / 'settings.ini').read_text()
    assert re.search(r'^allowed_cell_metadata_keys\s*=\s*tags\s*$', ini, re.M)
    assert re.search(r'^clear_all\s*=\s*False\s*$', ini, re.M)

def test_no_unrestricted_torch_load():
    "Everything loaded from outside goes through weights_only=True."
    for p in (ROOT / 'avs_cldm').rglob('*.py'):
        for i, line in enumerate(p.read_text().splitlines(), 1):
            if 'torch.load(' in line: assert 'weights_only=True' in line, f'{p.name}:{i}: torch.load without weights_only=True'
