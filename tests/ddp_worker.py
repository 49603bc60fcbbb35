"""Run by tests/test_ddp.py under `torchrun --nproc_per_node 2` (gloo): the InfoNCE of each rank's half of a fixed batch
with negatives gathered across the ranks (loss and gradients saved for the test to compare with one process), and
`train` refusing a world larger than the batch.  usage: ddp_worker.py OUT_PREFIX CONFIG_JSON"""
import sys
import torch, torch.distributed as dist
from avs_cldm.core import Config
from avs_cldm.contrastive import info_nce_batch
from avs_cldm.train import train

def batch():
    "The fixed global batch: conditions, latents and valid flags of 8 frames (rank r holds frames 4r..4r+3)."
    g = torch.Generator().manual_seed(0)
    c, z = torch.randn(8, 6, generator=g), torch.randn(8, 6, generator=g)
    return c, z, torch.tensor([1, 1, 0, 1, 1, 0, 0, 1], dtype=torch.bool)

def main(out, cfg_json):
    dist.init_process_group('gloo')
    r = dist.get_rank()
    c, z, v = batch()
    rows = slice(4 * r, 4 * r + 4)
    cc, zz = c[rows].clone().requires_grad_(), z[rows].clone().requires_grad_()
    loss = info_nce_batch(cc, zz[v[rows]], v[rows], tau=0.5)
    loss.backward()
    res = dict(loss=loss.detach(), grad_c=cc.grad, grad_z=zz.grad)
    try: train(Config.from_json(cfg_json), progress=False)
    except ValueError as e: res['error'] = str(e)
    torch.save(res, f'{out}.{r}.pt')
    dist.destroy_process_group()

if __name__ == '__main__': main(*sys.argv[1:3])
