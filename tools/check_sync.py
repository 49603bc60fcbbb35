"""CI gate: the package must equal the notebooks, and notebooks must be committed clean.

1. `nbdev_export` must not change anything under avs_cldm/ (the package is generated from nbs/).
2. No notebook under nbs/ may carry outputs or execution counts, and `nbdev_clean` must not change any notebook.
Exits 1 with a message naming the offending files.
"""
import hashlib, json, pathlib, subprocess, sys
ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = ROOT / '.venv' / 'bin'

def snapshot(folder, pattern):
    return {str(p.relative_to(ROOT)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((ROOT / folder).rglob(pattern)) if '.ipynb_checkpoints' not in p.parts and '__pycache__' not in p.parts}

def changed(before, after): return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))

def main():
    bad = False
    nbs = sorted(p for p in (ROOT / 'nbs').rglob('*.ipynb') if '.ipynb_checkpoints' not in p.parts)
    for p in nbs:
        try: nb = json.loads(p.read_text())
        except json.JSONDecodeError as e: print(f'{p}: not valid JSON ({e})'); bad = True; continue
        dirty = [i for i, c in enumerate(nb['cells']) if c['cell_type'] == 'code' and (c.get('outputs') or c.get('execution_count'))]
        if dirty: print(f'{p.relative_to(ROOT)}: cells {dirty} carry outputs; clear them (make clean-nbs)'); bad = True
    before = snapshot('nbs', '*.ipynb')
    subprocess.run([str(BIN / 'nbdev_clean')], cwd=ROOT, check=True)
    diff = changed(before, snapshot('nbs', '*.ipynb'))
    if diff: print('nbdev_clean changed these notebooks (now fixed in your tree; commit them):', *diff, sep='\n  '); bad = True
    before = snapshot('avs_cldm', '*.py')
    subprocess.run([str(BIN / 'nbdev_export')], cwd=ROOT, check=True)
    diff = changed(before, snapshot('avs_cldm', '*.py'))
    if diff: print('nbdev_export changed the package: avs_cldm/ differs from the notebooks:', *diff, sep='\n  '); bad = True
    print('notebooks clean and package in sync' if not bad else 'FAILED: see above')
    return 1 if bad else 0

if __name__ == '__main__': sys.exit(main())
