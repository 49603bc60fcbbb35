"""Does a change leave the report's numbers alone? Render the same finished runs with two versions of the kit and
compare every table and JSON file byte for byte.

    .venv/bin/python tools/render_check.py reports/runs --preset quick --before 01bc32c [--after .] [--keep DIR]

Each side gets a fresh copy of the runs at the same temporary path (so paths written into the reports agree, and no
side reads the analysis caches the other wrote), stamped with that side's `code_version` (a run is "finished" only for
the code that made it: the check asks what the other code renders from the *same* runs, not whether it would retrain
them), and renders the report notebooks (`experiments.index.REPORT_NOTEBOOKS`) with its own package and notebooks.
`--before`/`--after` take a git revision (checked out in a temporary worktree, with this checkout's data/ linked in)
or `.` for the working tree. Exit status 0: identical; 1: some table or JSON differs (listed); 2: a render failed.
"""
from __future__ import annotations
import argparse, filecmp, json, os, shutil, subprocess, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = ROOT / '.venv' / 'bin' / 'python'
COMPARED = ('.md', '.json', '.csv')
NOTEBOOKS = ('tables', 'figures', 'failure_cases', 'mi_analysis')


def checkout(rev: str, tmp: Path) -> Path:
    "The source tree of `rev`: this checkout for '.', else a detached git worktree under `tmp` with data/ linked in."
    if rev == '.': return ROOT
    dest = tmp / f'src-{rev}'
    subprocess.run(['git', 'worktree', 'add', '--detach', '-q', str(dest), rev], cwd=ROOT, check=True)
    for p in (ROOT / 'data').iterdir():                     # caches, composed benchmark, weights: shared, read-only use
        if not (dest / 'data' / p.name).exists(): (dest / 'data' / p.name).symlink_to(p)
    return dest


def _env(src: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(src), MPLBACKEND='Agg', PYTHONHASHSEED='0')
    env.pop('AVS_CLDM_ROOT', None); env.pop('IN_TEST', None)
    return env


def stamp(runs: Path, src: Path):
    "Write `src`'s code_version into every run's config.json (in the temporary copy only)."
    v = subprocess.run([str(PY), '-c', 'from avs_cldm.core import code_version; print(code_version())'], cwd=src,
                       env=_env(src), check=True, capture_output=True, text=True).stdout.strip()
    for c in runs.glob('*/config.json'):
        d = json.loads(c.read_text()); d['code_version'] = v; c.write_text(json.dumps(d, indent=2))
    return v


def render(src: Path, runs: Path, out: Path, preset: str, notebooks) -> dict:
    "Execute the report notebooks of `src` on `runs` into `out`; {notebook: seconds or error}."
    code = ('import json, sys; from avs_cldm.experiments.index import run_notebooks; '
            f'print(json.dumps(run_notebooks({preset!r}, {str(runs)!r}, {str(out)!r}, {tuple(notebooks)!r}, progress=False)))')
    r = subprocess.run([str(PY), '-c', code], cwd=src, env=_env(src), capture_output=True, text=True)
    if r.returncode: return {'*': r.stderr[-2000:]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def compare(a: Path, b: Path) -> dict:
    "{'differ': [...], 'only_before': [...], 'only_after': [...], 'same': n} over the compared files."
    fa = {p.relative_to(a) for p in a.rglob('*') if p.suffix in COMPARED and 'notebooks' not in p.parts}
    fb = {p.relative_to(b) for p in b.rglob('*') if p.suffix in COMPARED and 'notebooks' not in p.parts}
    common = sorted(fa & fb)
    differ = [str(p) for p in common if not filecmp.cmp(a / p, b / p, shallow=False)]
    return dict(differ=differ, only_before=sorted(map(str, fa - fb)), only_after=sorted(map(str, fb - fa)),
                same=len(common) - len(differ))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog='render_check.py', description=__doc__.split('\n\n')[0])
    ap.add_argument('runs', type=Path, help='a folder of finished runs (e.g. reports/runs)')
    ap.add_argument('--preset', required=True, help='the grid preset the runs belong to')
    ap.add_argument('--before', required=True, help="git revision, or '.' for the working tree")
    ap.add_argument('--after', default='.', help="git revision, or '.' for the working tree (default)")
    ap.add_argument('--notebooks', nargs='+', default=list(NOTEBOOKS))
    ap.add_argument('--keep', type=Path, help='copy both renders here (before/, after/) for inspection')
    a = ap.parse_args(argv)
    runs = a.runs.resolve()
    if not any(runs.glob('*/metrics.json')): ap.error(f'{a.runs}: no finished runs (no */metrics.json)')
    tmp = Path(tempfile.mkdtemp(prefix='render_check_'))
    trees, status = [], 0
    try:
        outs = {}
        for side, rev in (('before', a.before), ('after', a.after)):
            src = checkout(rev, tmp)
            if src != ROOT: trees.append(src)
            work, out = tmp / 'runs', tmp / 'report'
            shutil.copytree(runs, work, ignore=shutil.ignore_patterns('.stale', '*.lock'))
            v = stamp(work, src)
            t = render(src, work, out, a.preset, a.notebooks)
            print(f'{side} ({rev}, code {v}): ' + ', '.join(f'{k} {x}' if not isinstance(x, str) else f'{k} FAILED' for k, x in t.items()))
            bad = {k: x for k, x in t.items() if isinstance(x, str)}
            if bad:
                for k, x in bad.items(): print(f'  {k}: {x}', file=sys.stderr)
                return 2
            shutil.rmtree(work); outs[side] = out.rename(tmp / side)
        r = compare(outs['before'], outs['after'])
        print(f"{r['same']} files identical; {len(r['differ'])} differ; "
              f"{len(r['only_before'])} only before; {len(r['only_after'])} only after")
        for k in ('differ', 'only_before', 'only_after'):
            for p in r[k]: print(f'  {k}: {p}')
        if a.keep:
            for side, o in outs.items(): shutil.copytree(o, a.keep / side, dirs_exist_ok=True)
        status = 0 if not (r['differ'] or r['only_before'] or r['only_after']) else 1
    finally:
        for t in trees: subprocess.run(['git', 'worktree', 'remove', '--force', str(t)], cwd=ROOT, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return status


if __name__ == '__main__': sys.exit(main())
