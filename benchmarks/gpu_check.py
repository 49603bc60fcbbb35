"""One command for a GPU machine: the paper preset on the composed S4 at 224 px, a few hundred steps in fp32, bf16 and
fp16, on 1 GPU and with DDP over all visible GPUs (torchrun). Prints seconds per step, peak GPU memory and the loss
trajectory, and the host syncs per step (CUDA sync debug mode); exits non-zero if a loss does not fall (the mean
segmentation loss of the later half of the logged windows must be below 0.9x that of the earlier half; 0.98x with
--cpu), is not finite, or DDP and single-GPU losses disagree beyond --tol.

The single-GPU run of a DDP comparison is its single-process twin (`micro_batches = W`: the same shares of each global
batch and the same seeds); on CUDA, DDP's SyncBatchNorm sees the whole global batch where the twin's BatchNorm sees
one share, so the two agree only to a tolerance (--tol, relative, on the windows' mean total loss).

The benchmark is the composed S4 at 224 px under data/composed (from the asset bank in data/cache, `make assets`);
without a bank it composes a smaller S4 from the synthetic bank (and says so).

`--cpu` runs the same checks on this CPU at tiny sizes (tiny backbone, 64 px, a 32-channel head, the light audio
encoder, 8 clips, batch 2, lr 1e-3; gloo DDP with 2 processes, compared with its exact twin at --tol 1e-3;
8 steps each; fp16's GradScaler skips the first ~4 steps while it backs off from 2^16, and CPU fp16 is slow);
tests/test_gpu_check.py runs it.

usage: python benchmarks/gpu_check.py [--cpu] [--steps 300] [--tol 0.05] [--out DIR]
"""
import argparse, csv, json, math, os, shutil, statistics, sys, time, warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


FALL = dict(gpu=0.9, cpu=0.98)   # "the loss falls": mean seg loss of the later half of the windows < FALL x the earlier half's


def bench_root(cpu: bool, out: Path) -> Path:
    "The benchmark folder: the composed S4 (224 px, real bank) or a synthetic one (CPU: 64 px, 8 + 2 clips)."
    from avs_cldm.data.assets import AssetBank
    from avs_cldm.data.compose import ensure_benchmark
    if cpu:
        root = out / 'bench'
        ensure_benchmark(root, 'S4', bank=AssetBank.synthetic(), n_train=8, n_val=2, n_test=2, img_size=64,
                         workers=1, progress=False)
        return root
    try:
        bank = AssetBank.load()
        root = ROOT / 'data' / 'composed'
        ensure_benchmark(root, 'S4', bank, img_size=224)
    except FileNotFoundError as e:
        print(f'no asset bank ({e}); composing S4 at 224 px from the synthetic bank')
        root = ROOT / 'data' / 'composed_synthetic'
        ensure_benchmark(root, 'S4', bank=AssetBank.synthetic(size=160), n_train=400, n_val=16, n_test=16,
                         img_size=224, workers=min(16, os.cpu_count() or 1), progress=False)
    return root


def configs(cpu: bool, root: Path, out: Path, steps: int, world: int) -> dict:
    "The run configs per amp (the same global batch for the single-GPU twin and DDP)."
    from avs_cldm.core import make_config
    batch = 2 if cpu else world * math.ceil(4 / world)           # the paper's 4 clips, a multiple of the world size
    clips = 8 if cpu else 400
    per_epoch = clips // batch
    kw = dict(dataset='avsbench', data_root=str(root), subset='S4', batch_size=batch, max_train_clips=clips,
              max_test_clips=2 if cpu else 16, out_dir=str(out / 'runs'))
    if cpu: kw.update(backbone='tiny', img_size=64, head_channels=32, audio_encoder='light', lr=1e-3, num_workers=0)
    amp_steps = dict(none=steps, bf16=steps, fp16=steps)
    return {amp: make_config('paper', amp=amp, epochs=max(1, math.ceil(n / per_epoch)), **kw)
            for amp, n in amp_steps.items()}


def read_steps(run: Path) -> list:
    with open(run / 'steps.csv') as f: return [{k: float(v) for k, v in r.items() if v != ''} for r in csv.DictReader(f)]


def summarize(label: str, run: Path, wall: float, fall: float) -> dict:
    rows = read_steps(run)
    totals, seg = [r['total'] for r in rows], [r['seg'] for r in rows]
    times = [r['s_per_step'] for r in rows[1:]] or [rows[0]['s_per_step']]   # the first window includes warm-up
    res = dict(label=label, run=str(run), windows=len(rows), steps=int(sum(r['steps'] for r in rows)), wall_s=wall,
               s_per_step=statistics.median(times), gpu_mem_gib=max((r.get('gpu_mem_gib', 0.0) for r in rows), default=0.0),
               totals=totals, seg=seg, finite=all(math.isfinite(t) for t in totals))
    half = len(seg) // 2       # the seg loss: at small batches the diffusion term's noise (random k, ε) swamps the total
    res['falls'] = res['finite'] and half > 0 and statistics.mean(seg[-half:]) < fall * statistics.mean(seg[:half])
    return res


def run_single(cfg, device, micro: int, log_every: int) -> dict:
    import torch
    from avs_cldm.train import train, run_dir
    shutil.rmtree(run_dir(cfg), ignore_errors=True)
    if device == 'cuda': torch.cuda.reset_peak_memory_stats()
    t = time.time()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        out = train(cfg, device=device, progress=False, micro_batches=micro, log_every=log_every)
    return summarize(f'1 {device} {cfg.amp}' + (f' (twin of {micro})' if micro > 1 else ''), out, time.time() - t,
                     FALL[device])


def run_ddp(cfg, nproc: int, log_every: int, cpu: bool) -> dict:
    from avs_cldm.train import launch, run_dir
    shutil.rmtree(run_dir(cfg), ignore_errors=True)
    if cpu: os.environ['CUDA_VISIBLE_DEVICES'] = ''
    t = time.time()
    out = launch(cfg, nproc=nproc, progress=False, log_every=log_every)
    return summarize(f'DDP x{nproc} {cfg.amp}', out, time.time() - t, FALL['cpu' if cpu else 'gpu'])


def sync_census(cfg, device: str, steps: int = 10) -> dict:
    "Host syncs per step (CUDA sync debug mode warnings) in the model's forward, in backward + optimiser, in the loop."
    import torch
    from avs_cldm import train as T
    where, counts = ['loop'], dict(forward=0, backward_and_step=0, loop=0)
    tr, src, prog, _ = T.build_trainer(cfg.__class__.from_dict(dict(cfg.to_dict(), run_name='census')), torch.device(device), 0, 1,
                                       Path(cfg.data_root), progress=False)
    tr.model.register_forward_pre_hook(lambda *a: where.append('forward'))
    tr.model.register_forward_hook(lambda *a: where.pop())
    orig_backward, orig_step = tr.backward, tr.opt_step
    def backward(loss): where.append('backward_and_step'); orig_backward(loss); where.pop()
    def opt_step(): where.append('backward_and_step'); orig_step(); where.pop()
    tr.backward, tr.opt_step = backward, opt_step
    sampler = T.StepSampler(len(src['stream']), cfg.batch_size, cfg.seed, 0)
    batches = T.step_batches(cfg, sampler, torch.device(device), stream=src['stream'])
    log = T.LossLog(torch.device(device))
    def count(msg, *a, **k):
        if 'synchroniz' in str(msg): counts[where[-1]] += 1
    tr.module.train()
    old = warnings.showwarning
    with warnings.catch_warnings():
        warnings.simplefilter('always'); warnings.showwarning = count
        for step, (batch, feats) in zip(range(steps + 2), batches):
            if step == 2: torch.cuda.set_sync_debug_mode(1)          # after two warm-up steps
            log.add(T.train_step(tr, batch, feats, 0, step), step)
        torch.cuda.set_sync_debug_mode(0)
    warnings.showwarning = old
    return {k: v / steps for k, v in counts.items()}


def report(results: list, census: dict | None):
    print(f"\n{'run':34s} {'steps':>5s} {'s/step':>8s} {'GPU GiB':>8s}  mean total loss per window (seg in brackets)")
    for r in results:
        tr = r['totals']
        keep = list(range(len(tr))) if len(tr) <= 8 else [0, 1, 2, 3, len(tr) - 4, len(tr) - 3, len(tr) - 2, len(tr) - 1]
        traj = ' '.join(f"{tr[i]:.3f} ({r['seg'][i]:.3f})" for i in keep)
        print(f"{r['label']:34s} {r['steps']:5d} {r['s_per_step']:8.3f} {r['gpu_mem_gib']:8.2f}  {traj}"
              f"{'' if r['falls'] else '   <- DOES NOT FALL' if r['finite'] else '   <- NOT FINITE'}")
    if census: print('host syncs per step (fp32, 1 GPU): ' + ', '.join(f'{k} {v:.1f}' for k, v in census.items()))


def compare(single: dict, ddp: dict, tol: float) -> float:
    "Largest relative difference of the windows' mean total loss between a twin and a DDP run."
    a, b = single['totals'], ddp['totals']
    if len(a) != len(b): return float('inf')
    return max(abs(x - y) / max(abs(x), 1e-8) for x, y in zip(a, b))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--cpu', action='store_true', help='tiny sizes on this CPU (gloo DDP with 2 processes)')
    ap.add_argument('--steps', type=int, default=None, help='steps per run (default: 300 on GPU, 8 with --cpu)')
    ap.add_argument('--tol', type=float, default=None, help='DDP vs single relative tolerance (default 0.05; --cpu 1e-3)')
    ap.add_argument('--out', default=str(ROOT / 'reports' / 'runs_bench' / 'gpu_check'))
    a = ap.parse_args(argv)
    import torch
    cpu = a.cpu
    if cpu: torch.set_num_threads(1)      # 2 intra-op threads on 2 shared cores are many times slower than 1
    if not cpu and not torch.cuda.is_available(): ap.error('no CUDA device visible: run with --cpu for the CPU version')
    steps, tol = a.steps or (8 if cpu else 300), a.tol if a.tol is not None else (1e-3 if cpu else 0.05)
    out = Path(a.out) / ('cpu' if cpu else 'gpu')
    shutil.rmtree(out, ignore_errors=True); out.mkdir(parents=True)
    os.environ['AVS_CLDM_FEATURES'] = str(out / 'features')
    world = 2 if cpu else torch.cuda.device_count()
    device = 'cpu' if cpu else 'cuda'
    log_every = 2 if cpu else 20
    root = bench_root(cpu, out)
    cfgs = configs(cpu, root, out, steps, world)
    results, failures, pairs = [], [], []
    for amp, cfg in cfgs.items():
        cfg1 = cfg.__class__.from_dict(dict(cfg.to_dict(), run_name=f'single_{amp}'))
        try:
            s = run_single(cfg1, device, world if world > 1 else 1, log_every); results.append(s)
            if world > 1 and (amp == 'none' or not cpu):
                d = run_ddp(cfg.__class__.from_dict(dict(cfg.to_dict(), run_name=f'ddp_{amp}')), world, log_every, cpu)
                results.append(d); pairs.append((s, d))
        except Exception as e:                                    # e.g. NonFiniteLoss
            failures.append(f'{amp}: {type(e).__name__}: {e}')
    if world == 1: print('DDP: skipped (1 visible GPU)')
    census = None
    if not cpu:
        try: census = sync_census(cfgs['none'], device)
        except Exception as e: print(f'sync census failed: {type(e).__name__}: {e}')
    report(results, census)
    for r in results:
        if not r['falls']: failures.append(f"{r['label']}: the loss does not fall (windows {r['totals']})")
    for s, d in pairs:
        diff = compare(s, d, tol)
        print(f"{d['label']} vs {s['label']}: largest relative difference of the window losses {diff:.2e} (tol {tol:g})")
        if not diff <= tol: failures.append(f"{d['label']} disagrees with {s['label']}: {diff:.3g} > {tol:g}")
    summary = dict(device=torch.cuda.get_device_name() if not cpu else 'cpu', world=world, results=results,
                   census=census, failures=failures)
    (out / 'summary.json').write_text(json.dumps(summary, indent=2))
    print(f'summary: {out / "summary.json"}')
    if failures:
        print('FAILED:\n  ' + '\n  '.join(failures)); return 1
    print('OK'); return 0


if __name__ == '__main__': sys.exit(main())
