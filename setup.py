"""Builds the configs into the package: the top-level conf/ (where the project keeps them) is
copied to pinn/conf in every built wheel, so an installed pinn finds its configs anywhere. A
source checkout (pip install -e .) reads conf/ in place."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithConfigs(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "pinn" / "conf"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(Path(__file__).parent / "conf", target)


setup(cmdclass={"build_py": BuildWithConfigs})
