"""Build and validate a :class:`RunSpec` from defaults, a preset, a YAML file and command-line flags."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from bench.config import (
    PRESETS,
    TASK_PRESETS,
    EngineSpec,
    EvalSpec,
    ExactSpec,
    FrontierSpec,
    LLMJudgeSpec,
    MethodSpec,
    RewardModelSpec,
    RunSpec,
    TrainSpec,
    build_section,
    coerce,
)
from bench.errors import InputError

SECTIONS: dict[str, type] = {
    "eval": EvalSpec,
    "train": TrainSpec,
    "reward_model": RewardModelSpec,
    "engine": EngineSpec,
    "exact": ExactSpec,
    "llm_judge": LLMJudgeSpec,
    "frontier": FrontierSpec,
}
TOP_LEVEL = {"task": str, "model": str, "preset": str, "seed": int}


@dataclasses.dataclass
class _Layer:
    source: str
    top: dict[str, Any] = dataclasses.field(default_factory=dict)
    sections: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    methods: list[str] | None = None
    method_params: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)


def _parse_scalar(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def load_yaml_layer(path: str | Path) -> _Layer:
    import yaml

    p = Path(path)
    if not p.is_file():
        raise InputError("config file not found", source=str(p))
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8 text ({e.reason} at byte {e.start})", source=str(p)) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise InputError(f"invalid YAML: {getattr(e, 'problem', e)}", source=str(p),
                         row=mark.line + 1 if mark else None) from None
    if not isinstance(data, dict):
        raise InputError("a config file must be a mapping of settings", source=str(p))
    layer = _Layer(source=str(p))
    for key, value in data.items():
        if key in TOP_LEVEL:
            layer.top[key] = value
        elif key in SECTIONS:
            if not isinstance(value, dict):
                raise InputError("expected a mapping", source=str(p), field=key)
            layer.sections[key] = value
        elif key == "methods":
            if isinstance(value, dict):
                layer.methods = list(value)
                layer.method_params = {k: dict(v or {}) for k, v in value.items()}
            elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                layer.methods = list(value)
            else:
                raise InputError("expected a list of method names or a mapping name -> params",
                                 source=str(p), field="methods")
        else:
            raise InputError(f"unknown setting; known: {', '.join(sorted([*TOP_LEVEL, *SECTIONS, 'methods']))}",
                             source=str(p), field=key)
    return layer


def flags_layer(overrides: list[str], **top: Any) -> _Layer:
    """Command-line flags; ``overrides`` are ``section.key=value`` or ``method.key=value``."""
    layer = _Layer(source="command line")
    layer.top = {k: v for k, v in top.items() if v is not None and k != "methods"}
    if top.get("methods"):
        layer.methods = [m.strip() for m in str(top["methods"]).split(",") if m.strip()]
    for item in overrides:
        key, sep, value = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not sep or not dot or not name:
            raise InputError("expected --set SECTION.KEY=VALUE, e.g. --set train.lr=1e-6",
                             source="command line", field=item)
        target = layer.sections if section in SECTIONS else layer.method_params
        target.setdefault(section, {})[name] = _parse_scalar(value)
    return layer


def build_spec(layers: list[_Layer]) -> RunSpec:
    """Merge layers in order (later wins) over the preset they name, and validate."""
    top: dict[str, Any] = {}
    for layer in layers:
        for k, v in layer.top.items():
            top[k] = build_section_value(k, v, layer.source)
    preset = top.get("preset", "default")
    if preset not in PRESETS:
        raise InputError(f"unknown preset; known: {', '.join(PRESETS)}", source="spec", field="preset")
    if "task" not in top:
        raise InputError("no task given (use --task or 'task:' in the config)", source="spec", field="task")
    sections: dict[str, dict[str, Any]] = {k: dict(v) for k, v in PRESETS[preset].items()}
    task_preset = dict(TASK_PRESETS.get(str(top["task"]), {}).get(preset, {}))
    preset_params = task_preset.pop("methods", {})  # method settings, for the methods that are run
    for name, values in task_preset.items():
        sections.setdefault(name, {}).update(values)
    methods: list[str] = []
    methods_source = "spec"
    params: dict[str, dict[str, Any]] = {}
    for layer in layers:
        for name, values in layer.sections.items():
            build_section(SECTIONS[name], values, f"{name}.", layer.source)  # validates this layer
            sections.setdefault(name, {}).update(values)
        if layer.methods is not None:
            methods, methods_source = layer.methods, layer.source
        for name, values in layer.method_params.items():
            params.setdefault(name, {}).update(values)
    for name, values in preset_params.items():
        if name in methods:
            params[name] = {**values, **params.get(name, {})}
    built = {name: build_section(cls, sections.get(name, {}), f"{name}.", "spec") for name, cls in SECTIONS.items()}
    from bench.tasks import TASKS

    if built["train"].seeds > 1 and TASKS.get(str(top["task"])).exact:
        raise InputError("the exact task trains every seed already: use exact.seeds (it seeds data and training "
                         "together)", source="spec", field="train.seeds")
    return RunSpec(
        task=top["task"], model=top.get("model", "smollm2-135m"), preset=preset, seed=top.get("seed", 0),
        methods=_method_specs(top["task"], methods, params, methods_source), **built,
    )


def build_section_value(key: str, value: Any, source: str) -> Any:
    return coerce(value, TOP_LEVEL[key], key, source)


def _method_specs(task_name: str, names: list[str], params: dict[str, dict[str, Any]],
                  source: str = "spec") -> tuple[MethodSpec, ...]:
    from bench.tasks import TASKS
    from methods import METHODS

    if not names:
        raise InputError("no methods given (use --methods exo,dpo,...)", source="spec", field="methods")
    if len(set(names)) != len(names):
        raise InputError(f"a method is listed twice: {names}", source="spec", field="methods")
    task_cls = TASKS.get(task_name)
    for name in params:
        if name not in names:
            msg = METHODS.unknown_message(name) if name not in METHODS else f"{name!r} is not among --methods"
            raise InputError(f"settings for a method that is not run: {msg}", source="spec", field=name)
    specs = []
    for name in names:
        if name not in METHODS:
            raise InputError(METHODS.unknown_message(name), source=source, field="methods")
        method_cls = METHODS.get(name)
        resolved = method_cls.resolve_params(params.get(name, {}), task_cls, source=f"{name}.")
        specs.append(MethodSpec(name=name, params=tuple(sorted(resolved.items()))))
    return tuple(specs)
