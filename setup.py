from configparser import ConfigParser
import setuptools, shlex
config = ConfigParser(delimiters=['=']); config.read('settings.ini', encoding='utf-8'); cfg = config['DEFAULT']
cfg_keys = 'version description keywords author author_email'.split()
for o in cfg_keys + "lib_name user branch license status min_python audience language".split():
    assert o in cfg, f"missing expected setting: {o}"
setuptools.setup(
    name=cfg['lib_name'], url=cfg['git_url'],
    packages=setuptools.find_packages(include=[cfg['lib_path'], cfg['lib_path'] + '.*']),
    include_package_data=True, install_requires=shlex.split(cfg.get('requirements', '')),
    extras_require={'dev': (cfg.get('dev_requirements') or '').split()},
    python_requires='>=' + cfg['min_python'],
    long_description=open('README.md', encoding='utf-8').read(), long_description_content_type='text/markdown',
    zip_safe=False,
    entry_points={'console_scripts': cfg.get('console_scripts', '').split(),
                  'nbdev': [f'{cfg["lib_path"]}={cfg["lib_path"]}._modidx:d']},
    **{o: cfg[o] for o in cfg_keys})
