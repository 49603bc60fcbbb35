"""DDP on CPU: 2 gloo processes under torchrun follow the same loss trajectory as one process with the same global
batch split into 2 micro-batches (gradient accumulation), step for step."""
import csv, os, subprocess, sys, pathlib
import pytest, torch
from avs_cldm.core import make_config, load_json
from avs_cldm.data.avsbench import make_fixture
from avs_cldm.train import train

ROOT = pathlib.Path(__file__).resolve().parent.parent

def _history(run):
    with open(run / 'history.csv') as f: return list(csv.DictReader(f))

def test_ddp_matches_micro_batches(tmp_path, monkeypatch):
    monkeypatch.setenv('AVS_CLDM_FEATURES', str(tmp_path / 'features'))
    bench = make_fixture(tmp_path / 'bench', 'MS3', n_clips=8, size=64)
    common = dict(dataset='avsbench', data_root=str(bench), subset='MS3', backbone='tiny', img_size=64, epochs=2,
                  batch_size=4, out_dir=str(tmp_path / 'runs'))
    single = train(make_config(run_name='single', **common), progress=False, micro_batches=2)
    cfg = make_config(run_name='ddp', **common)
    run = tmp_path / 'runs' / 'ddp'; run.mkdir(parents=True)
    cfg.to_json(run / 'launch.json')
    env = dict(os.environ, OMP_NUM_THREADS='1')
    r = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2',
                        '-m', 'avs_cldm.train', '--config', str(run / 'launch.json'), '--no-progress'],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    h1, h2 = _history(single), _history(run)
    assert len(h1) == len(h2) == 2
    for a, b in zip(h1, h2):
        for k in ('seg', 'diffusion', 'contrastive', 'total'):
            assert abs(float(a[k]) - float(b[k])) < 1e-4 * max(1.0, abs(float(a[k]))), (k, a[k], b[k])
    m1, m2 = load_json(single / 'metrics.json'), load_json(run / 'metrics.json')
    assert abs(m1['J'] - m2['J']) < 1e-4 and abs(m1['F'] - m2['F']) < 1e-4
