"""Strip outputs and execution counts from notebooks in nbs/, keeping cell metadata (papermill's `parameters` tag)."""
import json, pathlib, sys
ROOT = pathlib.Path(__file__).resolve().parent.parent
for p in sorted((ROOT / 'nbs').rglob('*.ipynb')):
    if '.ipynb_checkpoints' in p.parts: continue
    nb = json.loads(p.read_text()); touched = False
    for c in nb['cells']:
        if c['cell_type'] == 'code' and (c.get('outputs') or c.get('execution_count')):
            c['outputs'], c['execution_count'] = [], None; touched = True
    if touched: p.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n'); print('cleared', p.relative_to(ROOT))
