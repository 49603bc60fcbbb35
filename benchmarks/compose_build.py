"""Time the real-asset bank load and a default build of each composed subset (2 workers).

usage: python benchmarks/compose_build.py [S4 MS3 ...] [--root data/composed] [--img-size 224]
Prints seconds per subset, clips per split and clips/s; a finished build is reused by ensure_benchmark (so delete it
to re-time). The splits are train / val / test / test_seen / test_sprites (see avs_cldm.data.compose).
"""
import argparse, os, time, subprocess
from avs_cldm.core import load_json
from avs_cldm.data.assets import AssetBank
from avs_cldm.data.compose import ensure_benchmark, default_root

p = argparse.ArgumentParser()
p.add_argument('subsets', nargs='*', default=['S4', 'MS3'])
p.add_argument('--root', default=None)
p.add_argument('--img-size', type=int, default=224)
a = p.parse_args()
t = time.time(); bank = AssetBank.load(); print(f'bank load: {time.time() - t:.1f} s  {bank}')
root = a.root or default_root()
total = 0.0
for s in a.subsets:
    t = time.time(); d = ensure_benchmark(root, s, bank, img_size=a.img_size)
    dt = time.time() - t; total += dt
    size = subprocess.run(['du', '-sh', str(d)], capture_output=True, text=True).stdout.split()[0]
    cj = load_json(d / 'compose.json')
    print(f"{s}: {dt:.1f} s on {os.cpu_count()} cores ({cj['clips'] / max(dt, 1e-9):.1f} clips/s; build itself {cj['seconds']} s) "
          f"-> {d} ({size}); clips per split {cj['split_clips']}")
print(f'total {total:.1f} s')
