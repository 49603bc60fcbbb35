"""Peak memory of a paper-preset S4 training run at 224 px on CPU through the streaming data path, and the cost of
reading the losses at every step.

1. Memory. The composed S4 at 224 px (data/composed, `make assets` + benchmarks/compose_build.py S4), the paper preset
   with the tiny backbone (so that CPU steps are affordable), `--clips` training clips (one epoch = clips / 4 steps) and
   `--test-clips` test clips, DataLoader workers as the preset says (4). The run is a child process; the parent samples
   the child's RSS and the PSS of the child and its DataLoader workers (PSS counts pages shared with the parent once)
   every 0.2 s. Run it with two `--clips` values: streaming memory does not grow with the number of clips. For scale, it
   prints what the clip tensors of the whole split would hold in RAM (the cached path, which the paper preset no
   longer takes).
2. Host syncs. The same tiny paper-preset run at 64 px, 8 steps with the losses read at every step (`log_every=1`:
   what `.item()` per step amounted to) and with them read once per epoch, in one process: the ratio of the seconds
   per step. (On CPU a sync costs little; on a GPU it stalls the queue.)

3. `--cpu-preset`: instead, one run of the cpu preset at the grid's run size (`TRAIN_SIZE`: all 2,000 composed S4
   training clips, cached features and embeddings in RAM) with the project's feature cache (data/features; built
   first if missing), peak RSS of the run's process and PSS of its tree. Target: <= 4 GiB.

usage: python benchmarks/train_memory.py [--clips 40 80] [--test-clips 8] [--workers 4] [--root data/composed]
       python benchmarks/train_memory.py --cpu-preset [--subset S4]
"""
import argparse, json, os, statistics, subprocess, sys, threading, time, warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _pss_kib(pid: int) -> int:
    try:
        for line in open(f'/proc/{pid}/smaps_rollup'):
            if line.startswith('Pss:'): return int(line.split()[1])
    except OSError: pass
    return 0


def _rss_kib(pid: int) -> int:
    try:
        for line in open(f'/proc/{pid}/status'):
            if line.startswith('VmRSS:'): return int(line.split()[1])
    except OSError: pass
    return 0


def _children(pid: int) -> list:
    try: return [int(p) for p in open(f'/proc/{pid}/task/{pid}/children').read().split()]
    except OSError: return []


def measure(cmd: list) -> dict:
    "Run `cmd`; peak RSS of the process and peak summed PSS of it and its descendants, sampled every 0.2 s."
    p = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    peak = dict(rss_kib=0, pss_tree_kib=0, processes=1)
    def sample():
        while p.poll() is None:
            tree, todo = [], [p.pid]
            while todo:
                q = todo.pop(); tree.append(q); todo += _children(q)
            peak['rss_kib'] = max(peak['rss_kib'], _rss_kib(p.pid))
            peak['pss_tree_kib'] = max(peak['pss_tree_kib'], sum(_pss_kib(q) for q in tree))
            peak['processes'] = max(peak['processes'], len(tree))
            time.sleep(0.2)
    t = threading.Thread(target=sample, daemon=True); t.start()
    out = p.communicate()[0]; t.join()
    if p.returncode: raise SystemExit(f'{cmd}: exit {p.returncode}')
    return dict(peak, child=json.loads(out.strip().splitlines()[-1]))


def one_run(root: str, clips: int, test_clips: int, workers: int, out: str):
    "Child: one paper-preset run (tiny backbone, 224 px) on `clips` training clips; prints JSON."
    import resource, torch
    warnings.simplefilter('ignore')
    torch.set_num_threads(1)
    from avs_cldm.core import make_config
    from avs_cldm.train import train
    cfg = make_config('paper', dataset='avsbench', data_root=root, subset='S4', backbone='tiny', epochs=1,
                      max_train_clips=clips, max_test_clips=test_clips, num_workers=workers, out_dir=out,
                      run_name=f'mem_{clips}')
    t = time.time(); run = train(cfg, progress=False, log_every=5); dt = time.time() - t
    rows = list(__import__('csv').DictReader(open(run / 'steps.csv')))
    print(json.dumps(dict(clips=clips, steps=sum(int(r['steps']) for r in rows), seconds=dt,
                          s_per_step=statistics.median(float(r['s_per_step']) for r in rows),
                          maxrss_self_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                          maxrss_largest_child_mib=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)))


def one_cpu_run(subset: str, out: str):
    "Child: one cpu-preset run at the grid's run size (TRAIN_SIZE) on the composed benchmark; prints JSON."
    import resource, torch
    warnings.simplefilter('ignore')
    from avs_cldm.core import make_config
    from avs_cldm.experiments.grid import TRAIN_SIZE
    from avs_cldm.train import train
    cfg = make_config('cpu', subset=subset, method='cldm', contrastive='infonce', out_dir=out, run_name=f'mem_cpu_{subset}',
                      **TRAIN_SIZE)
    t = time.time(); train(cfg, progress=False, restart=True); dt = time.time() - t
    print(json.dumps(dict(subset=subset, seconds=dt, threads=torch.get_num_threads(),
                          maxrss_self_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))


def sync_ratio(out: str, steps: int = 8) -> dict:
    "Seconds per step with the losses read at every step vs once per epoch (tiny paper preset, 64 px, one process)."
    import torch
    warnings.simplefilter('ignore')
    torch.set_num_threads(1)
    from avs_cldm.core import make_config
    from avs_cldm.data.assets import AssetBank
    from avs_cldm.data.compose import ensure_benchmark
    from avs_cldm.train import train
    root = Path(out) / 'bench64'
    ensure_benchmark(root, 'S4', bank=AssetBank.synthetic(), n_train=2 * steps, n_val=0, n_test=2, img_size=64,
                     workers=1, progress=False)
    res = {}
    for i, every in enumerate((1, 10 ** 6, 1, 10 ** 6)):         # interleaved, twice each
        cfg = make_config('paper', dataset='avsbench', data_root=str(root), backbone='tiny', img_size=64, batch_size=2,
                          epochs=1, max_train_clips=2 * steps, max_test_clips=2, num_workers=0, out_dir=out,
                          run_name=f'sync_{i}_{every}', audio_encoder='light', head_channels=32)
        t = time.time(); train(cfg, progress=False, stop_after_steps=steps, log_every=every)
        res.setdefault(every, []).append((time.time() - t) / steps)
    per_step, per_epoch = min(res[1]), min(res[10 ** 6])
    return dict(s_per_step_sync_every_step=per_step, s_per_step_sync_per_epoch=per_epoch, ratio=per_step / per_epoch)


def cached_bytes(clips: int, size: int = 224, T: int = 5) -> float:
    "GiB the clip tensors of `clips` clips would take (fp16 frames, uint8 masks, fp32 log-mels)."
    return clips * T * (3 * size * size * 2 + size * size + 96 * 64 * 4) / 2 ** 30


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--clips', type=int, nargs='+', default=[40, 80])
    ap.add_argument('--test-clips', type=int, default=8)
    ap.add_argument('--workers', type=int, default=4)
    ap.add_argument('--root', default=str(ROOT / 'data' / 'composed'))
    ap.add_argument('--out', default=str(ROOT / 'reports' / 'runs_bench' / 'train_memory'))
    ap.add_argument('--one', type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument('--skip-sync', action='store_true')
    ap.add_argument('--cpu-preset', action='store_true', help='measure one cpu-preset run of the grid size instead')
    ap.add_argument('--subset', default='S4')
    ap.add_argument('--one-cpu', action='store_true', help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one_cpu: return one_cpu_run(a.subset, a.out)
    if a.cpu_preset:
        r = measure([sys.executable, __file__, '--one-cpu', '--subset', a.subset, '--out', a.out])
        print(f"cpu preset, {a.subset}, grid run size: {r['child']['seconds']:.0f} s, peak RSS {r['rss_kib'] / 2 ** 20:.2f} GiB "
              f"(main process), peak PSS {r['pss_tree_kib'] / 2 ** 20:.2f} GiB (with {r['processes'] - 1} child processes)")
        Path(a.out).mkdir(parents=True, exist_ok=True)
        (Path(a.out) / f'cpu_preset_{a.subset}.json').write_text(json.dumps(r, indent=2))
        return
    os.environ.setdefault('AVS_CLDM_FEATURES', str(Path(a.out) / 'features'))
    if a.one is not None: return one_run(a.root, a.one, a.test_clips, a.workers, a.out)
    import shutil; shutil.rmtree(a.out, ignore_errors=True)
    from avs_cldm.data.avsbench import read_meta
    meta = read_meta(a.root, 'S4'); n_train = int((meta.split == 'train').sum())
    results = []
    for clips in a.clips:
        r = measure([sys.executable, __file__, '--one', str(clips), '--test-clips', str(a.test_clips),
                     '--workers', str(a.workers), '--root', a.root, '--out', a.out])
        results.append(r); c = r['child']
        print(f"{clips:5d} clips ({c['steps']} steps, {c['s_per_step']:.1f} s/step, {c['seconds']:.0f} s): peak RSS "
              f"{r['rss_kib'] / 2 ** 20:.2f} GiB (main process), peak PSS {r['pss_tree_kib'] / 2 ** 20:.2f} GiB "
              f"(main + {r['processes'] - 1} workers)")
    print(f"for scale: the clip tensors of all {n_train} training clips at 224 px would hold {cached_bytes(n_train):.2f} GiB "
          f"(about twice that while built, before this change)")
    summary = dict(memory=results, n_train=n_train, cached_gib_all_train=cached_bytes(n_train))
    if not a.skip_sync:
        s = sync_ratio(a.out); summary['syncs'] = s
        print(f"losses read every step: {s['s_per_step_sync_every_step']:.3f} s/step, once per epoch: "
              f"{s['s_per_step_sync_per_epoch']:.3f} s/step, ratio {s['ratio']:.3f}")
    Path(a.out).mkdir(parents=True, exist_ok=True)
    (Path(a.out) / 'summary.json').write_text(json.dumps(summary, indent=2))


if __name__ == '__main__': main()
