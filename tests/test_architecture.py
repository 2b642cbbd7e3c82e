"""The layering of docs/architecture.md holds: no import runs against the data flow."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "radarface"
# Rank of each top-level module or package: imports may only go to the same or a lower rank.
RANKS = {
    "arrays": 0,
    "io": 0,
    "lazy": 0,
    "params": 0,
    "resources": 0,
    "facemodel": 1,
    "radar": 1,
    "render": 2,
    "plot": 2,
    "demo": 4,
    "data": 4,
    "nn": 5,
    "train": 6,
    "fit": 7,
    "eval": 8,
    "cli": 9,
}
# Training validates and reconstruction scores with the Table 1 formulas; eval.metrics itself
# needs only params and facemodel (checked below), so these edges pull nothing above them in.
ALLOWED = {("train", "radarface.eval.metrics"), ("fit", "radarface.eval.metrics")}


def _imports(path: Path) -> set[str]:
    """Every radarface module that `path` imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "radarface":
            found.update(f"radarface.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.split(".")[0] == "radarface"}


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_module_has_a_rank() -> None:
    stages = {
        p.stem if p.is_file() else p.name
        for p in SRC.iterdir()
        if p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists())
    }
    assert stages - {"__init__"} <= set(RANKS), stages - set(RANKS)


def test_no_import_runs_against_the_data_flow() -> None:
    wrong = []
    for path in SRC.rglob("*.py"):
        own = path.relative_to(SRC).parts[0].removesuffix(".py")
        if own == "__init__":
            continue
        for module in _imports(path):
            target = _stage(module)
            if target in ("__init__", "__version__", own) or (own, module) in ALLOWED:
                continue
            if RANKS[target] > RANKS[own] or {own, target} == {"facemodel", "radar"}:
                wrong.append(f"{path.relative_to(SRC)} imports {module}")
    assert not wrong, "\n".join(sorted(wrong))


def test_eval_metrics_needs_only_params_and_facemodel() -> None:
    stages = {_stage(m) for m in _imports(SRC / "eval" / "metrics.py")}
    assert stages <= {"params", "facemodel"}, stages
