"""The docs site (mkdocs.yml, built with --strict by the test command) covers the package: every
public name's module has an API page, every guide and notebook is in the navigation, links of the
READMEs point at the site's pages, and the wheel ships its type hints."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

import roofline as rl

yaml = pytest.importorskip("yaml")
pytest.importorskip("mkdocs")

ROOT = Path(__file__).resolve().parents[1]
API = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "docs" / "api").glob("*.md"))


def _hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "scripts" / "docs_hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _nav_files(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [f for v in node.values() for f in _nav_files(v)]
    return [f for v in node for f in _nav_files(v)]


def test_every_public_name_has_its_module_in_the_api_reference():
    rendered = set(re.findall(r"^::: (roofline[\w.]*)$", API, flags=re.M))
    missing = {
        name: f"roofline.{mod}"
        for name, mod in rl._EXPORTS.items()
        if f"roofline.{mod}" not in rendered
    }
    assert missing == {}
    assert "roofline.widgets" in rendered


def test_every_guide_and_notebook_is_in_the_navigation():
    config = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
    nav = set(_nav_files(config["nav"]))
    guides = {p.name for p in (ROOT / "docs").glob("*.md")}
    notebooks = {f"notebooks/{p.name}" for p in (ROOT / "notebooks").glob("*.ipynb")}
    api = {f"api/{p.name}" for p in (ROOT / "docs" / "api").glob("*.md")}
    assert guides | notebooks | api | set(_hooks().PAGES) == nav


def test_readme_links_point_at_the_sites_pages():
    rewrite = _hooks().rewrite
    text = (
        "![chart](docs/img/a.png) [llm](docs/llm.md#3-x) [specs](hw_specs/README.md) "
        "[run](validation/cpu_run.json) [web](https://example.org) [here](#top)"
    )
    assert rewrite(text, "README.md", "index.md") == (
        "![chart](img/a.png) [llm](llm.md#3-x) [specs](hw_specs.md) "
        "run (`validation/cpu_run.json` in the repository) [web](https://example.org) [here](#top)"
    )
    # a guide in docs/ links to the model README one folder up
    assert rewrite("[layers](../model_specs/README.md)", "docs/importers.md", "importers.md") == (
        "[layers](model_specs.md)"
    )


def test_the_semantics_page_is_in_the_repository_with_its_attribution():
    text = (ROOT / "docs" / "semantics.md").read_text(encoding="utf-8")
    assert "Copied from the project's design notes" in text
    for section in ("## Counting conventions", "## The roofline model", "Energy and power"):
        assert section in text


def test_the_wheel_ships_type_hints():
    # hatch puts every file of the package folder in the wheel unless told to exclude some
    config = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    wheel = config.split("[tool.hatch.build.targets.wheel]", 1)[1].split("\n[", 1)[0]
    assert re.search(r'^packages = \["roofline"\]', wheel, flags=re.M)
    assert "exclude" not in wheel
    assert (ROOT / "roofline" / "py.typed").is_file()
