"""Does a change leave the report's numbers alone? Render the same finished runs with two versions of the kit and
compare every table and JSON file byte for byte.

    .venv/bin/python tools/render_check.py reports/runs --preset quick --before 01bc32c [--after .] [--keep DIR]

Both sides render the runs where they are (a run's record holds its folder, so a moved run is not "finished"), each
from the same pristine state: the runs are copied aside first, and after each side every file is put back as it was (no
side reads the analysis caches the other wrote, and the runs end as they began); the runs' own analysis caches are
removed before each side renders, so that both compute the audio swap, generalisation and MI themselves. Each side stamps the runs with its own
`code_version` first (a run is "finished" only for the code that made it: the check asks what the other code renders
from the *same* runs, not whether it would retrain them) and renders the report notebooks
(`experiments.index.REPORT_NOTEBOOKS`) with its own package and notebooks into the same temporary folder, so paths
written into the reports agree. `--before`/`--after` take a git revision (checked out in a temporary worktree, with
this checkout's data/ linked in) or `.` for the working tree. Exit status 0: identical; 1: some table or JSON differs
(listed); 2: a render failed. Needs free disk for one copy of the runs.
"""
from __future__ import annotations
import argparse, filecmp, json, os, shutil, subprocess, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = ROOT / '.venv' / 'bin' / 'python'
COMPARED = ('.md', '.json', '.csv')
NOTEBOOKS = ('tables', 'figures', 'failure_cases', 'mi_analysis')
CACHES = ('audio_swap.json', 'generalisation.json', 'mi.json')   # experiments.runs.cached_json files in a run folder


def checkout(rev: str, dest: Path) -> Path:
    """The source tree of `rev` at `dest`: a detached git worktree, or for '.' a copy of the working tree's files (tracked
    and untracked, not ignored), with this checkout's data/ linked in. Both sides use the same `dest`, one after the
    other, so that every path a report writes is the same string on both sides."""
    if rev == '.':
        files = subprocess.run(['git', 'ls-files', '-co', '--exclude-standard', '-z'], cwd=ROOT, check=True,
                               capture_output=True, text=True).stdout.split('\0')
        for f in filter(None, files):
            if (ROOT / f).is_file():
                (dest / f).parent.mkdir(parents=True, exist_ok=True); shutil.copy2(ROOT / f, dest / f)
    else: subprocess.run(['git', 'worktree', 'add', '--detach', '-q', str(dest), rev], cwd=ROOT, check=True)
    for p in (ROOT / 'data').iterdir():                     # caches, composed benchmark, weights: shared, read-only use
        if not (dest / 'data' / p.name).exists(): (dest / 'data' / p.name).symlink_to(p.resolve())
    return dest


def drop(src: Path, rev: str):
    "Remove a tree made by `checkout`."
    if rev != '.': subprocess.run(['git', 'worktree', 'remove', '--force', str(src)], cwd=ROOT, capture_output=True)
    shutil.rmtree(src, ignore_errors=True)


def _env(src: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(src), MPLBACKEND='Agg', PYTHONHASHSEED='0')
    env.pop('AVS_CLDM_ROOT', None); env.pop('IN_TEST', None)
    return env


def stamp(runs: Path, src: Path):
    "Write `src`'s code_version into every run's config.json (`main` puts the runs back afterwards); returns it."
    v = subprocess.run([str(PY), '-c', 'from avs_cldm.core import code_version; print(code_version())'], cwd=src,
                       env=_env(src), check=True, capture_output=True, text=True).stdout.strip()
    for c in runs.glob('*/config.json'):
        d = json.loads(c.read_text()); d['code_version'] = v; c.write_text(json.dumps(d, indent=2))
    return v


def recorded_out_dir(runs: Path) -> str:
    "The `out_dir` the runs were trained with (as their config.json records it); they must all agree."
    dirs = {json.loads(c.read_text()).get('out_dir') for c in runs.glob('*/config.json')}
    if len(dirs) != 1: raise SystemExit(f'render_check: {runs}: runs recorded with several out_dir values {sorted(map(str, dirs))}')
    return dirs.pop()


def place(runs: Path, src: Path, out_dir: str) -> Path | None:
    "Make `out_dir` (relative to `src`, as the runs record it) lead to `runs`; returns a link made for the purpose."
    target = Path(out_dir) if Path(out_dir).is_absolute() else src / out_dir
    if target.exists() and target.resolve() == runs.resolve(): return None
    if target.exists() or target.is_symlink():
        raise SystemExit(f'render_check: {target} exists and is not {runs}: the runs record out_dir={out_dir!r}')
    target.parent.mkdir(parents=True, exist_ok=True); target.symlink_to(runs, target_is_directory=True)
    return target


def restore(runs: Path, pristine: Path):
    "Put `runs` back exactly as `pristine` holds it (replaced by a fresh copy)."
    shutil.rmtree(runs)
    shutil.copytree(pristine, runs, symlinks=True)


def render(src: Path, runs: str, out: Path, preset: str, notebooks) -> dict:
    "Execute the report notebooks of `src` on `runs` into `out`; {notebook: seconds or error}."
    code = ('import json, sys; from avs_cldm.experiments.index import run_notebooks; '
            f'print(json.dumps(run_notebooks({preset!r}, {runs!r}, {str(out)!r}, {tuple(notebooks)!r}, progress=False)))')
    r = subprocess.run([str(PY), '-c', code], cwd=src, env=_env(src), capture_output=True, text=True)
    if r.returncode: return {'*': r.stderr[-2000:]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def compare(a: Path, b: Path) -> dict:
    "{'differ': [...], 'only_before': [...], 'only_after': [...], 'same': n} over the compared files."
    files = lambda root: {p.relative_to(root) for p in root.rglob('*') if p.suffix in COMPARED and 'notebooks' not in p.parts}
    fa, fb = files(a), files(b)
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
    ap.add_argument('--reuse-caches', action='store_true',
                    help="let both sides read the runs' analysis caches (audio swap, generalisation, MI) instead of recomputing")
    ap.add_argument('--keep', type=Path, help='copy both renders here (before/, after/) for inspection')
    a = ap.parse_args(argv)
    runs = a.runs.resolve()
    if not any(runs.glob('*/metrics.json')): ap.error(f'{a.runs}: no finished runs (no */metrics.json)')
    tmp = Path(tempfile.mkdtemp(prefix='render_check_'))
    status = 0
    try:
        outs, pristine, out_dir = {}, tmp / 'pristine', recorded_out_dir(runs)
        shutil.copytree(runs, pristine, symlinks=True)
        for side, rev in (('before', a.before), ('after', a.after)):
            src = checkout(rev, tmp / 'src')
            out, link = tmp / 'report', place(runs, src, out_dir)
            try:
                v = stamp(runs, src)
                if not a.reuse_caches:                       # each side computes the analyses itself
                    for c in CACHES:
                        for f in runs.glob(f'*/{c}'): f.unlink()
                t = render(src, out_dir, out, a.preset, a.notebooks)
            finally:
                restore(runs, pristine)
                if link is not None: link.unlink()
                drop(src, rev)
            print(f'{side} ({rev}, code {v}): ' + ', '.join(f'{k} {x}' if not isinstance(x, str) else f'{k} FAILED' for k, x in t.items()))
            bad = {k: x for k, x in t.items() if isinstance(x, str)}
            if bad:
                for k, x in bad.items(): print(f'  {k}: {x}', file=sys.stderr)
                return 2
            outs[side] = out.rename(tmp / side)
        r = compare(outs['before'], outs['after'])
        print(f"{r['same']} files identical; {len(r['differ'])} differ; "
              f"{len(r['only_before'])} only before; {len(r['only_after'])} only after")
        for k in ('differ', 'only_before', 'only_after'):
            for p in r[k]: print(f'  {k}: {p}')
        if a.keep:
            for side, o in outs.items(): shutil.copytree(o, a.keep / side, dirs_exist_ok=True)
        status = 0 if not (r['differ'] or r['only_before'] or r['only_after']) else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run(['git', 'worktree', 'prune'], cwd=ROOT, capture_output=True)   # a checkout that failed half-way
    return status


if __name__ == '__main__': sys.exit(main())
