"""The architecture's rules, checked: the references never import torch or the PINN code; the
generic pipeline names no family; training knows no physics."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PINN = Path(__file__).resolve().parent.parent / "pinn"
FAMILIES = sorted(p.name for p in (PINN / "problems").iterdir() if (p / "__init__.py").is_file())


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_references_import_neither_torch_nor_the_pinn_code():
    modules = [f"pinn.reference.{p.stem}" for p in (PINN / "reference").glob("*.py") if p.stem != "__init__"]
    code = ("import sys\n" + "".join(f"import {m}\n" for m in modules)
            + "bad = sorted(m for m in sys.modules if m == 'torch' or m.startswith(('torch.', 'pinn.problems', "
              "'pinn.training', 'pinn.numerics', 'pinn.io', 'pinn.run')))\nprint(bad)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", proc.stdout


@pytest.mark.parametrize("module", ["run.py", "cli.py", "api.py", "sweep.py", "plot.py", "config.py", "status.py",
                                    "io/figures.py", "io/files.py", "io/summary.py"])
def test_the_generic_pipeline_names_no_family(module):
    names = imported_modules(PINN / module)
    assert not [n for n in names for f in FAMILIES if n.startswith(f"pinn.problems.{f}")], names


@pytest.mark.parametrize("module", sorted(p.name for p in (PINN / "training").glob("*.py")))
def test_training_knows_no_physics(module):
    names = imported_modules(PINN / "training" / module)
    physics = [n for n in names if n.startswith(("pinn.problems", "pinn.chemistry", "pinn.reference"))
               and not n.startswith("pinn.problems.base")]
    assert not physics, physics
