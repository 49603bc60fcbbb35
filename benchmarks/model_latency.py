"""CPU inference latency of CL-CLDM against E-D with the same backbone (EfficientNet-Lite0), at 128 and 224 px.

One clip = T = 5 frames. Both models are timed in the same process, interleaved, median of several repeats;
the figure that matters is the ratio CLDM / E-D (target <= 1.10: DDIM-10 on a 24-d latent should be negligible).
Run: .venv/bin/python benchmarks/model_latency.py
"""
import time, statistics, warnings
import torch
from avs_cldm.core import make_config
from avs_cldm.models import build_model, dummy_batch

def main(reps=7):
    torch.manual_seed(0)
    for size in (128, 224):
        models = {}
        for method in ('ed', 'cldm'):
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                models[method] = build_model(make_config(subset='S4', method=method, img_size=size)).eval()
        batch = dummy_batch(B=1, T=5, img_size=size)
        res = {name: [] for name in models}
        with torch.no_grad():
            for name, model in models.items():          # warm-up (first calls allocate and pick kernels)
                for _ in range(2): model(batch)
            for _ in range(reps):                        # interleave so machine noise hits both alike
                for name, model in models.items():
                    t = time.perf_counter(); model(batch); res[name].append(1000 * (time.perf_counter() - t))
        ed, cl = statistics.median(res['ed']), statistics.median(res['cldm'])
        print(f'{size}px  E-D {ed:7.1f} ms/clip   CL-CLDM {cl:7.1f} ms/clip   ratio {cl / ed:.3f}')

if __name__ == '__main__': main()
