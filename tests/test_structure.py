"""The shape a newcomer relies on: no import cycles, one way for data to flow, and config groups that map to packages.

Static checks: every import statement of `src/parasim` is read with `ast`, including function-level imports and
those under `if TYPE_CHECKING:` (a cycle hidden there is still a cycle a reader has to untangle).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from conftest import CONF, ROOT

SRC = ROOT / "src" / "parasim"

# config group → the package whose objects its `_target_`s build; every group is here or in CONFIG_ONLY
GROUP_PACKAGES = {
    "model": "parasim.models",
    "loss": "parasim.losses",
    "data": "parasim.data",
    "callbacks": "parasim.callbacks",
    "logger": "parasim.loggers",
    "calibration": "parasim.evaluation.calibration",
    "export": "parasim.export",
    "scheduler": "parasim.schedulers",
    "suite": "parasim.evaluation.suite",
}
# groups that configure other libraries' objects (torch, Lightning, Hydra) or only set values
CONFIG_ONLY = {"optimizer", "trainer", "paths", "hydra", "experiment", "debug", "hparams_search"}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def imports_in(source: str, package: str, known: set[str] | dict) -> set[str]:
    """The `known` modules that `source` imports anywhere (module level, functions, TYPE_CHECKING blocks);
    `package` anchors relative imports."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        found.update(t for t in targets if t in known)  # `from pkg import submodule` imports the submodule too
    return found


def imports_of(name: str) -> set[str]:
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    return imports_in(path.read_text(), package, MODULES) - {name}


GRAPH = {name: imports_of(name) for name in MODULES}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_there_are_no_import_cycles() -> None:
    assert cycles(GRAPH) == []


def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function_or_type_checking_import() -> None:
    """The checks above would be vacuous if function-level or TYPE_CHECKING imports were missed."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from parasim.data.collate import PairCollator\n"
              "def f():\n    import parasim.losses.base\n    from . import sef1\n")
    known = {"parasim.data.collate", "parasim.losses.base", "parasim.models.sef1", "parasim.models"}
    assert imports_in(source, "parasim.models", known) == known


def test_the_model_package_imports_nothing_from_the_data_package() -> None:
    models = {name: deps for name, deps in GRAPH.items() if name.startswith("parasim.models")}
    assert models and all(not dep.startswith("parasim.data") for deps in models.values() for dep in deps), models


def test_data_flows_one_way_between_packages() -> None:
    """entry point → data → module → losses → models: no package imports one that comes before it."""
    order = ["parasim.data", "parasim.module", "parasim.losses", "parasim.models"]
    for i, package in enumerate(order):
        upstream = order[:i]
        for name, deps in GRAPH.items():
            if name == package or name.startswith(package + "."):
                bad = [d for d in deps if any(d == u or d.startswith(u + ".") for u in upstream)]
                assert not bad, f"{name} imports {bad}"


GROUPS = sorted(p.name for p in CONF.iterdir() if p.is_dir())


def targets(node) -> list[str]:
    if isinstance(node, dict):
        found = [node["_target_"]] if isinstance(node.get("_target_"), str) else []
        return found + [t for value in node.values() for t in targets(value)]
    if isinstance(node, list):
        return [t for value in node for t in targets(value)]
    return []


def test_every_config_group_is_mapped_to_a_package_or_listed_as_config_only() -> None:
    assert set(GROUPS) == set(GROUP_PACKAGES) | CONFIG_ONLY, "add the new group to GROUP_PACKAGES or CONFIG_ONLY"
    assert not set(GROUP_PACKAGES) & CONFIG_ONLY


@pytest.mark.parametrize("group", sorted(GROUP_PACKAGES))
def test_each_group_builds_objects_of_its_own_package(group: str) -> None:
    package = GROUP_PACKAGES[group]
    files = sorted((CONF / group).rglob("*.yaml"))
    found = [(f.relative_to(CONF), t) for f in files for t in targets(OmegaConf.to_container(OmegaConf.load(f)))]
    assert found, f"conf/{group} builds nothing"
    inner_losses = {"torch.nn.MSELoss", "torch.nn.L1Loss"}  # a loss's `inner` is torch's, by design (loss.inner)
    elsewhere = [(str(f), t) for f, t in found if not (t == package or t.startswith(package + "."))
                 and not (group == "loss" and t in inner_losses)]
    assert not elsewhere, f"conf/{group} must build from {package}: {elsewhere}"


def test_the_check_sees_a_target_outside_its_package() -> None:
    config = {"a": {"_target_": "parasim.callbacks.NanGuard"}, "b": [{"_target_": "lightning.Callback"}]}
    assert targets(config) == ["parasim.callbacks.NanGuard", "lightning.Callback"]


def test_data_configs_share_one_base_and_keep_source_options_under_source() -> None:
    base = set(OmegaConf.load(CONF / "data" / "base" / "datamodule.yaml"))
    for path in sorted((CONF / "data").glob("*.yaml")):
        config = OmegaConf.load(path)
        assert "base/datamodule@_here_" in config.defaults, path.name
        assert "_target_" in config.source, path.name
        own = set(config) - {"defaults", "source"}
        assert own <= base, f"{path.name} sets keys outside the datamodule's: {own - base}"
