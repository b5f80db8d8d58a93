"""A loaded model: its spec (:class:`ModelSpec`), its family's parameters and its graph."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from roofline.errors import SpecError
from roofline.families import FAMILIES, FamilyParams
from roofline.field_checks import Name
from roofline.frozen import freeze
from roofline.graph import Graph
from roofline.output_files import write_text
from roofline.spec_errors import validate
from roofline.suggest import did_you_mean
from roofline.yaml_loader import parse_yaml
from roofline.yaml_writer import dumps


class ModelSpec(BaseModel):
    """Top level of a model spec file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Name = Field(description="model name (the file stem for presets)")
    family: str = Field(min_length=1, description="family whose builder makes the graph")
    description: str = ""
    source: str = Field(min_length=1, description="paper / URL / code the numbers come from")
    params: Annotated[dict[str, Any], AfterValidator(freeze)] = Field(default_factory=dict)
    notes: str | None = None


@dataclass(frozen=True, eq=False)
class Model:
    """A loaded model: its spec, validated family parameters and its graph.

    Attributes
    ----------
    name, family : str
    sample : str
        What one unit of batch is (image, clip, request, sequence...).
    spec : ModelSpec
    params : FamilyParams
    graph : Graph
    path : str or None
        The spec file, if loaded from one.
    """

    name: str
    family: str
    sample: str
    spec: ModelSpec
    params: FamilyParams
    graph: Graph
    path: str | None = None

    def with_params(self, **changes: Any) -> Model:
        """Return the model rebuilt with family parameters changed (a what-if); an unknown or
        invalid parameter is a SpecError naming ``params.<name>``."""
        if not changes:
            return self
        data = self.spec.model_dump()
        data["params"] = {**self.params.model_dump(), **changes}
        return build_model(data, file=self.path)

    def to_yaml(self, path: str | None = None) -> str:
        """The model's spec as YAML that :func:`roofline.load_model` reloads with identical
        counts (an imported model as its ``layers`` spec, one op per line); written atomically
        to ``path`` when given. Returns the text."""
        text = dumps(self.spec.model_dump(exclude_none=True))
        if path is not None:
            write_text(path, text)
        return text

    def __repr__(self) -> str:
        return f"Model({self.name!r}, family={self.family!r}, ops={len(self.graph.nodes)})"


def build_model(data: dict[str, Any], *, file: str | None = None) -> Model:
    """Validate a model spec mapping and build its graph."""
    spec: ModelSpec = validate(ModelSpec, data, file=file)
    fam = FAMILIES.get(spec.family)
    if fam is None:
        raise SpecError(
            f"unknown family {spec.family!r}",
            file=file,
            field="family",
            fix=did_you_mean(spec.family, FAMILIES, "use one of " + ", ".join(sorted(FAMILIES))),
        )
    params = validate(fam.params, spec.params, file=file, prefix="params")
    try:
        graph = fam.build(params, spec.name)
    except SpecError as exc:
        raise exc.with_context(file=file, prefix="params") from None
    return Model(spec.name, spec.family, fam.sample, spec, params, graph, file)


def parse_overrides(items: str | list[str], field: str = "--set") -> dict[str, Any]:
    """Family parameter overrides from ``key=value`` items (``"a=1,b=x"`` or a list of them).

    Values are read as YAML scalars or flow lists (``4096``, ``1e3``, ``true``, ``[1, 2]``); an
    item without ``=`` or with an empty key is a SpecError naming ``field``.
    """
    texts = [items] if isinstance(items, str) else list(items)
    out: dict[str, Any] = {}
    for text in texts:
        for item in _split_top_level(text):
            key, eq, value = item.partition("=")
            if not eq or not key.strip():
                raise SpecError(
                    f"{item!r} is not key=value",
                    field=field,
                    fix="e.g. context_len=4096 or phase=decode",
                )
            out[key.strip()] = parse_yaml(value.strip(), file=field) if value.strip() else ""
    return out


def _split_top_level(text: str) -> list[str]:
    """Split at commas outside brackets (``a=1,b=[2, 3]`` -> ``a=1``, ``b=[2, 3]``)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]
