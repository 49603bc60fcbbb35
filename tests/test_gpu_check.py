"""`benchmarks/gpu_check.py --cpu`: the GPU check's own code path at tiny sizes on this CPU (fp32 / bf16 / fp16 and
2-process gloo DDP against its single-process twin) passes: every loss falls and DDP agrees with the twin."""
import json, os, subprocess, sys, pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent

def test_gpu_check_cpu(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / 'benchmarks' / 'gpu_check.py'), '--cpu', '--out', str(tmp_path)],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert r.stdout.rstrip().endswith('OK')
    s = json.loads((tmp_path / 'cpu' / 'summary.json').read_text())
    labels = [x['label'] for x in s['results']]
    assert any(l.startswith('DDP x2') for l in labels) and any('fp16' in l for l in labels) and any('bf16' in l for l in labels)
    assert all(x['falls'] and x['finite'] for x in s['results']) and not s['failures']
    single, ddp = (next(x for x in s['results'] if x['label'].startswith(p) and 'none' in x['label']) for p in ('1 cpu', 'DDP'))
    assert max(abs(a - b) for a, b in zip(single['totals'], ddp['totals'])) < 1e-4
