"""Speed and equality of avs_cldm.metrics (vectorised J/F) against AVSBench's per-threshold loop.

The same random 224x224 frames (1,000 by default) are scored in batches of 20 frames. That is AVSBench's test.sh
grouping: test_batch_size 4 clips x 5 frames. They are scored twice:
  * reference: a transcription of AVSBench `mask_iou` + `_eval_pr`/`Eval_Fmeasure` (a loop over the 255 thresholds),
    averaged over batches like `test.py`'s AverageMeter;
  * ours: `avs_cldm.metrics.BinaryMeter`.
The script checks that J and F agree to 1e-6 (final and per batch) and prints one summary line with the speed ratio
(target >= 20x).

Both sides run with the same torch thread count, 1 by default. The reference loop makes ~5 small ops per threshold and
frame, and on a shared 2-core machine intra-op threading makes it 10x slower and very noisy. That would inflate the
ratio, so a single thread gives a stable, conservative ratio and keeps the run near 15-30 s.

usage: .venv/bin/python benchmarks/metrics_speed.py [--frames 1000] [--batch 20] [--size 224] [--seed 0] [--threads 1]
"""
import argparse, sys, time
from pathlib import Path
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from avs_cldm.metrics import BinaryMeter


# ---- reference: AVSBench avs_s4/utils/utility.py logic, CPU branch (see shared/notes/reference.md §1.4) ----
def ref_mask_iou(pred, target, eps=1e-7):
    N, num_pixels = pred.size(0), pred.size(-1) * pred.size(-2)
    no_obj_flag = target.sum(2).sum(1) == 0
    pred = (torch.sigmoid(pred) > 0.5).int()
    inter, union = (pred * target).sum(2).sum(1), torch.max(pred, target).sum(2).sum(1)
    inter_no_obj = ((1 - target) * (1 - pred)).sum(2).sum(1)
    inter[no_obj_flag] = inter_no_obj[no_obj_flag]
    union[no_obj_flag] = num_pixels
    return torch.sum(inter / (union + eps)) / N


def ref_eval_pr(y_pred, y, num):
    prec, recall = torch.zeros(num), torch.zeros(num)
    thlist = torch.linspace(0, 1 - 1e-10, num)
    for i in range(num):
        y_temp = (y_pred >= thlist[i]).float()
        tp = (y_temp * y).sum()
        prec[i], recall[i] = tp / (y_temp.sum() + 1e-20), tp / (y.sum() + 1e-20)
    return prec, recall


def ref_eval_fmeasure(pred, gt, pr_num=255):
    pred = torch.sigmoid(pred)
    beta2, avg_f, img_num, score = 0.3, 0.0, 0, torch.zeros(pr_num)
    for img_id in range(pred.size(0)):
        if torch.mean(gt[img_id]) == 0.0: continue
        prec, recall = ref_eval_pr(pred[img_id], gt[img_id], pr_num)
        f = (1 + beta2) * prec * recall / (beta2 * prec + recall)
        f[f != f] = 0
        avg_f += f; img_num += 1
        score = avg_f / img_num
    return score.max().item()


def make_frames(n, size, seed):
    "Random masks (ellipses, ~10% empty) and noisy logits that roughly agree with them, plus saturated/zero pixels."
    gen = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing='ij')
    c = torch.rand(n, 2, generator=gen) * 1.2 - 0.6
    r = torch.rand(n, 2, generator=gen) * 0.5 + 0.1
    gt = ((((xx - c[:, :1, None]) / r[:, :1, None]) ** 2 + ((yy - c[:, 1:, None]) / r[:, 1:, None]) ** 2) < 1).float()
    gt[torch.rand(n, generator=gen) < 0.1] = 0
    logits = 4 * (2 * gt - 1) * torch.rand(n, 1, 1, generator=gen) + 3 * torch.randn(n, size, size, generator=gen)
    logits[::7, :4] = 40.0   # sigmoid == 1.0 == the last threshold
    logits[::5, 4:8] = 0.0   # sigmoid == 0.5 == threshold 127
    return logits, gt


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--frames', type=int, default=1000)
    ap.add_argument('--batch', type=int, default=20, help='frames per test batch (AVSBench test.sh: 4 clips x 5)')
    ap.add_argument('--size', type=int, default=224)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--threads', type=int, default=1, help='torch threads for both sides (0 = leave torch default)')
    a = ap.parse_args()
    if a.threads > 0: torch.set_num_threads(a.threads)
    logits, gt = make_frames(a.frames, a.size, a.seed)
    batches = [(logits[s:s + a.batch], gt[s:s + a.batch]) for s in range(0, a.frames, a.batch)]

    t0 = time.perf_counter()
    ref_j, ref_f, ref_fb = 0.0, 0.0, []
    for z, g in batches:
        ref_j += ref_mask_iou(z, g)                     # AverageMeter: float32 tensor sum for J
        fb = ref_eval_fmeasure(z, g); ref_f += fb; ref_fb.append(fb)
    ref_j, ref_f = (ref_j / len(batches)).item(), ref_f / len(batches)
    t_ref = time.perf_counter() - t0

    t0 = time.perf_counter()
    meter, our_fb = BinaryMeter(), []
    for z, g in batches: our_fb.append(meter.update(z, g)['F'])
    res = meter.compute()
    t_ours = time.perf_counter() - t0

    dj, df = abs(res['J'] - ref_j), abs(res['F'] - ref_f)
    dfb = max(abs(x - y) for x, y in zip(our_fb, ref_fb))
    ok = dj <= 1e-6 and df <= 1e-6 and dfb <= 1e-6
    ratio = t_ref / t_ours
    print(f"metrics_speed: {a.frames} frames {a.size}x{a.size}, {len(batches)} batches of {a.batch}, "
          f"{torch.get_num_threads()} threads | J {res['J']:.6f} (|d| {dj:.1e}) F {res['F']:.6f} (|d| {df:.1e}, "
          f"per-batch max |d| {dfb:.1e}) F_frame {res['F_frame']:.6f} | loop {t_ref:.2f} s, vectorised {t_ours:.2f} s "
          f"-> {ratio:.1f}x (target >= 20x) | {'EQUAL to 1e-6' if ok else 'MISMATCH'}")
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
