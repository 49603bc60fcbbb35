"""Training-step throughput at the cpu preset, with and without the frozen-feature cache, and peak memory.

Each setting runs in its own subprocess (so peak RSS is its own): a CL-CLDM model at the cpu preset
(EfficientNet-Lite0 frozen, 128 px, 64-channel head, batch 16 clips x 5 frames), random inputs, 2 warm-up steps then
N timed steps. Prints frames/s and peak RSS for: cached features, uncached (backbone forward every step), and the
end-to-end 'paper-like' step at 128 px (backbone trained). With --full-run it also times one default cpu-preset run
(`make_config()` on the composed benchmark, caches included).
Run: .venv/bin/python benchmarks/train_speed.py [--steps 5] [--full-run]
"""
import argparse, json, resource, subprocess, sys, time, warnings

def one(mode, steps, batch, size):
    import torch
    warnings.simplefilter('ignore')
    from avs_cldm.core import make_config
    from avs_cldm.models import build_model, dummy_batch
    kw = dict(img_size=size, batch_size=batch)
    if mode == 'end_to_end': kw.update(freeze_backbone=False, cache_features=False)
    m = build_model(make_config(**kw)).train()
    opt = torch.optim.Adam([p for p in m.parameters() if p.requires_grad], lr=1e-3)
    b = dummy_batch(B=batch, T=5, img_size=size)
    feats = None
    if mode == 'cached':
        with torch.no_grad(): feats = [f.half().float() for f in m.backbone(b['frames'].flatten(0, 1))]
    def step():
        opt.zero_grad(); m(b, feats=feats)['losses']['total'].backward(); opt.step()
    for _ in range(2): step()
    t = time.perf_counter()
    for _ in range(steps): step()
    dt = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(dict(mode=mode, frames_per_s=steps * batch * 5 / dt, peak_rss_mib=rss)))

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--steps', type=int, default=5); ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--size', type=int, default=128); ap.add_argument('--full-run', action='store_true')
    ap.add_argument('--one', default=None)
    a = ap.parse_args()
    if a.one: return one(a.one, a.steps, a.batch, a.size)
    res = {}
    for mode in ('cached', 'uncached', 'end_to_end'):
        out = subprocess.run([sys.executable, __file__, '--one', mode, '--steps', str(a.steps), '--batch', str(a.batch),
                              '--size', str(a.size)], capture_output=True, text=True, check=True).stdout
        res[mode] = json.loads(out.strip().splitlines()[-1])
        print(f"{mode:11s} {res[mode]['frames_per_s']:7.1f} frames/s   peak RSS {res[mode]['peak_rss_mib']:6.0f} MiB")
    print(f"feature cache speed-up: {res['cached']['frames_per_s'] / res['uncached']['frames_per_s']:.2f}x")
    if a.full_run:
        from avs_cldm.core import make_config
        from avs_cldm.train import train
        cfg = make_config(run_name='bench_default_cpu', out_dir='reports/runs_bench')
        t = time.perf_counter(); out = train(cfg); dt = time.perf_counter() - t
        print(f'default cpu-preset run ({cfg.epochs} epochs, caches included): {dt:.0f} s -> {out}')

if __name__ == '__main__': main()
