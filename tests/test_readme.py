"""The README's real-AVSBench command, run as written (papermill on nbs/train.ipynb, paper preset, ResNet-50), on a
small AVSBench-layout fixture, with the backbone file in torchvision's legacy `resnet50-19c8e357.pth` layout (no
BatchNorm `num_batches_tracked` buffers) and a VGGish state dict; only the paths are substituted, and parameters for
a tiny run (64 px, 2 clips, 1 epoch) are appended."""
import os, re, shlex, subprocess, sys, pathlib
import torch, torchvision
from avs_cldm.audio import VGGish
from avs_cldm.core import load_json
from avs_cldm.data.avsbench import make_fixture

ROOT = pathlib.Path(__file__).resolve().parent.parent

def readme_command(section='### Real AVSBench', tool='papermill'):
    "The shell command of the README section's code block that runs `tool`, continuation lines joined, as argv."
    text = (ROOT / 'README.md').read_text()
    body = text[text.index(section):]
    block = re.search(r'```bash\n(.*?)```', body, re.S).group(1).replace('\\\n', ' ')
    line = next(l for l in block.splitlines() if tool in l.split()[0])
    return shlex.split(line)

def test_readme_real_avsbench_command_with_legacy_resnet50(tmp_path):
    argv = readme_command()
    assert argv[0] == '.venv/bin/papermill' and 'resnet50-19c8e357.pth' in ' '.join(argv)
    bench = make_fixture(tmp_path / 'avsbench_data', 'S4', n_clips=4, size=64)
    sd = {k: v for k, v in torchvision.models.resnet50().state_dict().items() if not k.endswith('num_batches_tracked')}
    torch.save(sd, tmp_path / 'resnet50-19c8e357.pth')
    torch.save(VGGish().state_dict(), tmp_path / 'vggish.pth')
    swap = {'/data/avsbench_data': str(bench), '/weights/resnet50-19c8e357.pth': str(tmp_path / 'resnet50-19c8e357.pth'),
            '/weights/vggish.pth': str(tmp_path / 'vggish.pth'), 'reports/runs/s4_real.ipynb': str(tmp_path / 'out.ipynb')}
    argv = [str(ROOT / argv[0])] + [swap.get(a, a) for a in argv[1:]]
    assert all(v in argv for v in swap.values()), argv
    argv += ['-p', 'img_size', '64', '-p', 'epochs', '1', '-p', 'batch_size', '2', '-p', 'max_train_clips', '2',
             '-p', 'max_test_clips', '2', '-p', 'out_dir', str(tmp_path / 'runs'), '-p', 'run_name', 's4_real']
    env = {k: v for k, v in os.environ.items() if k != 'IN_TEST'}   # under IN_TEST train.ipynb swaps in the tiny backbone
    env.update(PYTHONPATH=str(ROOT), AVS_CLDM_FEATURES=str(tmp_path / 'features'), OMP_NUM_THREADS='1')
    r = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-4000:]
    run = tmp_path / 'runs' / 's4_real'
    cfg, metrics = load_json(run / 'config.json'), load_json(run / 'metrics.json')
    assert (cfg['preset'], cfg['backbone'], cfg['dataset'], cfg['freeze_backbone']) == ('paper', 'resnet50', 'avsbench', False)
    assert cfg['backbone_weights'].endswith('resnet50-19c8e357.pth') and 0 <= metrics['J'] <= 1
    assert 'RANDOMLY INITIALISED' not in r.stderr and 'RANDOMLY INITIALISED' not in (tmp_path / 'out.ipynb').read_text()
