"""Training-step speed at the cpu preset: today's code against an older revision, in one run, and peak memory.

Each measurement runs in its own subprocess (so peak RSS is its own and the two code versions never share a process):
a CL-CLDM model at the cpu preset (EfficientNet-Lite0 frozen with cached features, 128 px, 64-channel head), random
inputs shaped like a batch of 16 clips x 5 frames, 2 warm-up steps, then N timed steps, interleaved old/new so that
machine noise hits both alike. Two batch kinds: S4-like (1 supervised frame per clip) and MS3-like (all 5).

`old` is the package as it was at `--old-rev` (default 389ed61, before the fast step), extracted with `git archive`
into a temporary folder: its step trains the light audio encoder and decodes every frame. `new` is the working tree's
package with its cpu-preset step: the frozen pretrained audio encoder's embeddings come cached (`audio_emb`), only
supervised frames are decoded, and `--amp` (default: the cpu preset's `amp`) picks bf16 autocast or fp32.

Run: .venv/bin/python benchmarks/train_speed.py [--steps 10] [--rounds 3] [--old-rev REV] [--amp none|bf16]
Prints frames/s per (version, batch kind), the new/old speed ratio, and peak RSS. Use a quiet machine; the figures are
ratios measured in one run.
"""
import argparse, json, os, resource, subprocess, sys, tempfile, time, warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def one(version, kind, steps, batch, amp):
    "Runs inside the subprocess: time `steps` training steps; prints one JSON line."
    import torch
    warnings.simplefilter('ignore')
    from avs_cldm.core import make_config
    from avs_cldm.models import build_model, dummy_batch
    torch.manual_seed(0)
    cfg = make_config(method='cldm', contrastive='infonce')
    m = build_model(cfg).train()
    b = dummy_batch(B=batch, T=5, img_size=cfg.img_size, supervised_frames=1 if kind == 'S4' else None)
    if version == 'new':                  # the frozen, pretrained encoder's cached embeddings
        for p in m.audio_encoder.parameters(): p.requires_grad_(False)
        m.frozen_audio = True
        b['audio_emb'] = torch.rand(batch, 5, m.audio_encoder.out_dim)   # cached encoder outputs (class scores in the cpu preset)
    opt = torch.optim.Adam([p for p in m.parameters() if p.requires_grad], lr=1e-3)
    with torch.no_grad(): feats = [f.half().float() for f in m.backbone(b['frames'].flatten(0, 1))]
    use_bf16 = version == 'new' and amp == 'bf16'
    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=use_bf16):
            loss = m(b, feats=feats)['losses']['total']
        loss.backward(); opt.step()
        return loss.detach()
    for _ in range(2): step()
    t = time.perf_counter()
    for _ in range(steps): last = step()
    float(last)                           # one sync at the end
    dt = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(dict(version=version, kind=kind, frames_per_s=steps * batch * 5 / dt, s_per_step=dt / steps,
                          peak_rss_mib=rss)))

def old_tree(rev) -> Path:
    "The package at `rev`, extracted into a temporary folder (its parent goes on PYTHONPATH)."
    d = Path(tempfile.mkdtemp(prefix='avs_old_'))
    tar = subprocess.run(['git', 'archive', rev, 'avs_cldm', 'settings.ini'], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(['tar', '-x', '-C', str(d)], input=tar, check=True)
    return d

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--steps', type=int, default=10); ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--batch', type=int, default=16); ap.add_argument('--old-rev', default='389ed61')
    ap.add_argument('--amp', default=None, help="new version's autocast: none | bf16 (default: the cpu preset's)")
    ap.add_argument('--one', nargs=2, default=None)
    a = ap.parse_args()
    if a.amp is None:
        from avs_cldm.core import make_config
        a.amp = make_config().amp
    if a.one: return one(a.one[0], a.one[1], a.steps, a.batch, a.amp)
    old = old_tree(a.old_rev)
    res = {}
    for r in range(a.rounds):
        for kind in ('S4', 'MS3'):
            for version in ('old', 'new'):
                env = dict(os.environ, PYTHONPATH=str(old if version == 'old' else ROOT), AVS_CLDM_ROOT=str(ROOT))
                out = subprocess.run([sys.executable, __file__, '--one', version, kind, '--steps', str(a.steps),
                                      '--batch', str(a.batch), '--amp', a.amp], capture_output=True, text=True,
                                     env=env, cwd=str(old if version == 'old' else ROOT))
                if out.returncode: sys.exit(f'{version} {kind} failed:\n{out.stderr[-2000:]}')
                d = json.loads(out.stdout.strip().splitlines()[-1])
                res.setdefault((version, kind), []).append(d)
    import statistics as st
    print(f"cpu preset, CL-CLDM, batch {a.batch} clips x 5 frames, cached visual features; new amp = {a.amp}; "
          f"old = {a.old_rev}; medians of {a.rounds} rounds of {a.steps} steps")
    for kind in ('S4', 'MS3'):
        o = st.median(d['frames_per_s'] for d in res[('old', kind)]); n = st.median(d['frames_per_s'] for d in res[('new', kind)])
        ro = max(d['peak_rss_mib'] for d in res[('old', kind)]); rn = max(d['peak_rss_mib'] for d in res[('new', kind)])
        print(f"{kind}: old {o:7.1f} frames/s ({a.batch * 5 / o:.3f} s/step, peak {ro:.0f} MiB)   "
              f"new {n:7.1f} frames/s ({a.batch * 5 / n:.3f} s/step, peak {rn:.0f} MiB)   new/old = {n / o:.2f}x")

if __name__ == '__main__': main()
