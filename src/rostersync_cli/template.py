"""template.yaml as data: the one definition the cloud stack and the local stack both come from.

`load_template` reads the SAM template with CloudFormation's short tags (`!Ref`, `!Sub`,
`!GetAtt`, ...) turned into their long forms (`{"Ref": ...}`, `{"Fn::Sub": ...}`).
`functions` gives each `AWS::Serverless::Function` with the template's Globals merged in, the
way SAM merges them; `load_handler` imports a function's handler the way `sam local invoke`
would (code and layer directories on `sys.path`), without Docker; `resolve_environment` turns
a function's environment into the strings Lambda would see, given the names and ARNs of the
local resources standing in for the template's.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEMPLATE = REPO_ROOT / "template.yaml"

FUNCTION_TYPE = "AWS::Serverless::Function"
LAYER_TYPE = "AWS::Serverless::LayerVersion"

# The pseudo parameters a local stack stands in for (moto's default account).
PSEUDO_PARAMETER_DEFAULTS: dict[str, str] = {
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::StackName": "rostersync-local",
    "AWS::StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/rostersync-local/local",
    "AWS::URLSuffix": "amazonaws.com",
}


class TemplateError(ValueError):
    """The template does not say what the caller needs, or uses what this module can't resolve."""


# --------------------------------------------------------------------------- loading


class CloudFormationLoader(yaml.SafeLoader):
    """A safe YAML loader that understands CloudFormation's short-form intrinsic functions.

    Timestamps stay strings (`AWSTemplateFormatVersion: 2010-09-09` is text to CloudFormation).
    """


CloudFormationLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = tag_suffix
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:  # pragma: no cover - yaml has no other node kinds
        raise yaml.constructor.ConstructorError(None, None, f"unexpected node for !{name}", node.start_mark)
    if name in {"Ref", "Condition"}:
        return {name: value}
    if name == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    return {f"Fn::{name}": value}


CloudFormationLoader.add_multi_constructor("!", _construct_intrinsic)


def loads_template(text: str) -> dict[str, Any]:
    """Parse template text (YAML or JSON) into plain dicts, intrinsics in their long form."""
    data = yaml.load(text, Loader=CloudFormationLoader)  # noqa: S506 - a SafeLoader subclass
    if not isinstance(data, dict):
        raise TemplateError("a template is a mapping at its top level")
    return data


def load_template(path: Path | str | None = None) -> dict[str, Any]:
    """Read template.yaml (by default the repository's own) into plain dicts."""
    return loads_template(Path(path or DEFAULT_TEMPLATE).read_text(encoding="utf-8"))


def resources_of_type(template: Mapping[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """Logical id -> resource for every resource of one type, in template order."""
    return {
        logical_id: resource
        for logical_id, resource in (template.get("Resources") or {}).items()
        if resource.get("Type") == resource_type
    }


def resource(template: Mapping[str, Any], logical_id: str) -> dict[str, Any]:
    try:
        found: dict[str, Any] = template["Resources"][logical_id]
    except KeyError:
        raise TemplateError(f"template has no resource {logical_id!r}") from None
    return found


def parameter_defaults(template: Mapping[str, Any]) -> dict[str, Any]:
    """Parameter name -> its Default (parameters without one are left out)."""
    return {
        name: spec["Default"]
        for name, spec in (template.get("Parameters") or {}).items()
        if "Default" in spec
    }


# ------------------------------------------------------------------------- functions


@dataclass(frozen=True)
class FunctionSpec:
    """One `AWS::Serverless::Function`, with the template's Globals merged in."""

    logical_id: str
    code_uri: Path
    handler: str
    runtime: str | None
    architectures: list[str]
    environment: dict[str, Any]
    layers: list[Any]
    layer_dirs: list[Path]
    policies: list[Any]
    events: dict[str, Any]
    timeout: int | None
    memory: int | None
    # What resolving the environment needs from the rest of the template.
    parameters: dict[str, Any] = field(default_factory=dict, repr=False)
    conditions: dict[str, Any] = field(default_factory=dict, repr=False)
    resource_ids: frozenset[str] = field(default_factory=frozenset, repr=False)

    @property
    def module(self) -> str:
        """`fetch.handler` for the handler `fetch.handler.lambda_handler`."""
        return self.handler.rpartition(".")[0]

    @property
    def function_name(self) -> str:
        return self.handler.rpartition(".")[2]

    @property
    def module_path(self) -> Path:
        """Where the handler's module lives: code_uri/fetch/handler.py."""
        return self.code_uri.joinpath(*self.module.split(".")).with_suffix(".py")


def _merge_globals(global_value: Any, local_value: Any) -> Any:
    """SAM's Globals rules: maps merge (recursively), lists concatenate, scalars are overridden."""
    if isinstance(global_value, dict) and isinstance(local_value, dict):
        merged = dict(global_value)
        for key, value in local_value.items():
            merged[key] = _merge_globals(global_value[key], value) if key in global_value else value
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return [*global_value, *local_value]
    return local_value


def _function_properties(template: Mapping[str, Any], logical_id: str) -> dict[str, Any]:
    globals_ = ((template.get("Globals") or {}).get("Function")) or {}
    properties = resource(template, logical_id).get("Properties") or {}
    merged: dict[str, Any] = dict(globals_)
    for key, value in properties.items():
        merged[key] = _merge_globals(globals_[key], value) if key in globals_ else value
    return merged


def _layer_dirs(template: Mapping[str, Any], layers: list[Any], base_dir: Path) -> list[Path]:
    """Content directories of the template's own layers (`!Ref SomeLayer`); other ARNs are skipped."""
    own_layers = resources_of_type(template, LAYER_TYPE)
    dirs: list[Path] = []
    for layer in layers:
        if isinstance(layer, dict) and layer.get("Ref") in own_layers:
            content_uri = (own_layers[layer["Ref"]].get("Properties") or {}).get("ContentUri")
            if isinstance(content_uri, str):
                dirs.append((base_dir / content_uri).resolve())
    return dirs


def functions(template: Mapping[str, Any], base_dir: Path | str | None = None) -> dict[str, FunctionSpec]:
    """Logical id -> FunctionSpec for every serverless function in the template.

    Relative CodeUri/ContentUri paths are taken from `base_dir`, by default the repository root
    (where template.yaml lives).
    """
    root = Path(base_dir).resolve() if base_dir is not None else REPO_ROOT
    parameters = parameter_defaults(template)
    conditions = dict(template.get("Conditions") or {})
    resource_ids = frozenset((template.get("Resources") or {}).keys())
    specs: dict[str, FunctionSpec] = {}
    for logical_id in resources_of_type(template, FUNCTION_TYPE):
        props = _function_properties(template, logical_id)
        code_uri, handler = props.get("CodeUri"), props.get("Handler")
        if not isinstance(code_uri, str) or not isinstance(handler, str):
            raise TemplateError(f"{logical_id}: CodeUri and Handler must be plain strings")
        layers = list(props.get("Layers") or [])
        policies = props.get("Policies") or []
        specs[logical_id] = FunctionSpec(
            logical_id=logical_id,
            code_uri=(root / code_uri).resolve(),
            handler=handler,
            runtime=props.get("Runtime"),
            architectures=list(props.get("Architectures") or ["x86_64"]),
            environment=dict((props.get("Environment") or {}).get("Variables") or {}),
            layers=layers,
            layer_dirs=_layer_dirs(template, layers, root),
            policies=list(policies) if isinstance(policies, list) else [policies],
            events=dict(props.get("Events") or {}),
            timeout=props.get("Timeout"),
            memory=props.get("MemorySize"),
            parameters=parameters,
            conditions=conditions,
            resource_ids=resource_ids,
        )
    return specs


def load_handler(spec: FunctionSpec) -> Callable[..., Any]:
    """Import a function's handler as Lambda would: its code and its layers' content importable.

    The layer directories go on `sys.path` after the code directory, as /opt/python does on
    Lambda. Modules stay cached in `sys.modules`, like a warm container.
    """
    for directory in reversed([spec.code_uri, *spec.layer_dirs]):
        entry = str(directory)
        if entry not in sys.path:
            sys.path.insert(0, entry)
    # Keep the code directory first even if a layer dir was already on the path.
    code_entry = str(spec.code_uri)
    if sys.path[0] != code_entry:
        sys.path.remove(code_entry)
        sys.path.insert(0, code_entry)
    importlib.invalidate_caches()
    module = importlib.import_module(spec.module)
    handler = getattr(module, spec.function_name, None)
    if not callable(handler):
        raise TemplateError(f"{spec.logical_id}: {spec.module} has no callable {spec.function_name!r}")
    return handler


# ------------------------------------------------------------------------ intrinsics


class _NoValue:
    """`!Ref AWS::NoValue`: the property (here: the variable) is dropped."""


NO_VALUE = _NoValue()

_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


@dataclass(frozen=True)
class Resolver:
    """Evaluates intrinsic functions against local names, parameter values and conditions.

    `names` maps a logical id to what `!Ref` gives (a bucket or table name, a topic or secret
    ARN) and `"LogicalId.Attribute"` to what `!GetAtt` gives; parameter names and pseudo
    parameters in `names` override the template's defaults.
    """

    names: Mapping[str, str]
    parameters: Mapping[str, Any] = field(default_factory=dict)
    conditions: Mapping[str, Any] = field(default_factory=dict)
    resource_ids: frozenset[str] = frozenset()

    @classmethod
    def for_template(cls, template: Mapping[str, Any], names: Mapping[str, str]) -> Resolver:
        return cls(
            names=names,
            parameters=parameter_defaults(template),
            conditions=dict(template.get("Conditions") or {}),
            resource_ids=frozenset((template.get("Resources") or {}).keys()),
        )

    # -- public

    def resolve(self, value: Any) -> Any:
        """The value with every intrinsic function evaluated (NO_VALUE where one removes it)."""
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            handler = self._INTRINSICS.get(key)
            if handler is not None:
                return handler(self, arg)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def resolve_str(self, value: Any) -> str:
        resolved = self.resolve(value)
        if isinstance(resolved, bool):
            return "true" if resolved else "false"
        if isinstance(resolved, int | float | str):
            return str(resolved)
        raise TemplateError(f"{value!r} does not resolve to a string (got {resolved!r})")

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            raise TemplateError(f"template has no condition {name!r}")
        return self._truth(self.conditions[name])

    # -- intrinsics

    def _ref(self, name: Any) -> Any:
        if not isinstance(name, str):
            raise TemplateError(f"!Ref takes a name, not {name!r}")
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.names:
            return self.names[name]
        if name == "AWS::Region":
            return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        if name in PSEUDO_PARAMETER_DEFAULTS:
            return PSEUDO_PARAMETER_DEFAULTS[name]
        if name in self.parameters:
            return self.parameters[name]
        kind = "resource" if name in self.resource_ids else "name"
        raise TemplateError(f"no local value for !Ref {name} ({kind}); pass it in names")

    def _get_att(self, arg: Any) -> Any:
        if isinstance(arg, str):
            arg = arg.split(".", 1)
        if not isinstance(arg, list) or len(arg) != 2:
            raise TemplateError(f"!GetAtt takes [LogicalId, Attribute], not {arg!r}")
        logical_id, attribute = arg[0], self.resolve_str(arg[1])
        key = f"{logical_id}.{attribute}"
        if key in self.names:
            return self.names[key]
        raise TemplateError(f"no local value for !GetAtt {key}; pass it in names")

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, str):
            text, variables = arg, {}
        elif isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str):
            text, variables = arg[0], dict(arg[1])
        else:
            raise TemplateError(f"!Sub takes a string or [string, variables], not {arg!r}")

        def replace(match: re.Match[str]) -> str:
            inner = match.group(1)
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"
            if inner in variables:
                return self.resolve_str(variables[inner])
            if "." in inner and not inner.startswith("AWS::"):
                return self.resolve_str({"Fn::GetAtt": inner.split(".", 1)})
            return self.resolve_str({"Ref": inner})

        return _SUB_VARIABLE.sub(replace, text)

    def _join(self, arg: Any) -> str:
        if not isinstance(arg, list) or len(arg) != 2:
            raise TemplateError(f"!Join takes [delimiter, list], not {arg!r}")
        items = self.resolve(arg[1])
        return str(arg[0]).join(self.resolve_str(item) for item in items)

    def _select(self, arg: Any) -> Any:
        if not isinstance(arg, list) or len(arg) != 2:
            raise TemplateError(f"!Select takes [index, list], not {arg!r}")
        return self.resolve(arg[1])[int(self.resolve(arg[0]))]

    def _split(self, arg: Any) -> list[str]:
        if not isinstance(arg, list) or len(arg) != 2:
            raise TemplateError(f"!Split takes [delimiter, string], not {arg!r}")
        return self.resolve_str(arg[1]).split(str(arg[0]))

    def _if(self, arg: Any) -> Any:
        if not isinstance(arg, list) or len(arg) != 3:
            raise TemplateError(f"!If takes [condition, then, else], not {arg!r}")
        return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])

    def _equals(self, arg: Any) -> bool:
        if not isinstance(arg, list) or len(arg) != 2:
            raise TemplateError(f"!Equals takes two values, not {arg!r}")
        return self.resolve_str(arg[0]) == self.resolve_str(arg[1])

    def _not(self, arg: Any) -> bool:
        return not self._truth(arg[0] if isinstance(arg, list) else arg)

    def _and(self, arg: Any) -> bool:
        return all(self._truth(item) for item in arg)

    def _or(self, arg: Any) -> bool:
        return any(self._truth(item) for item in arg)

    def _condition_ref(self, name: Any) -> bool:
        return self.condition(str(name))

    def _unsupported(self, arg: Any) -> Any:
        raise TemplateError(f"intrinsic function not available locally: {arg!r}")

    def _truth(self, value: Any) -> bool:
        resolved = self.resolve(value)
        if isinstance(resolved, bool):
            return resolved
        if isinstance(resolved, str) and resolved.lower() in {"true", "false"}:
            return resolved.lower() == "true"
        raise TemplateError(f"condition {value!r} is not a boolean (got {resolved!r})")

    _INTRINSICS: ClassVar[Mapping[str, Callable[[Resolver, Any], Any]]] = {
        "Ref": _ref,
        "Fn::GetAtt": _get_att,
        "Fn::Sub": _sub,
        "Fn::Join": _join,
        "Fn::Select": _select,
        "Fn::Split": _split,
        "Fn::If": _if,
        "Fn::Equals": _equals,
        "Fn::Not": _not,
        "Fn::And": _and,
        "Fn::Or": _or,
        "Condition": _condition_ref,
        "Fn::ImportValue": _unsupported,
        "Fn::GetAZs": _unsupported,
        "Fn::FindInMap": _unsupported,
    }


def resolve(template: Mapping[str, Any], value: Any, names: Mapping[str, str]) -> Any:
    """Evaluate the intrinsic functions in `value` (any part of `template`) locally."""
    return Resolver.for_template(template, names).resolve(value)


def resolve_environment(spec: FunctionSpec, names: Mapping[str, str]) -> dict[str, str]:
    """The environment Lambda would give the function, with local resources standing in.

    `names` maps logical ids to what `!Ref` gives (e.g. `{"RawBucket": "rostersync-raw",
    "AlertTopic": "arn:aws:sns:..."}`) and `"Id.Attr"` to what `!GetAtt` gives; parameters
    take their template defaults unless `names` has them. A reference to a resource missing
    from `names` raises TemplateError: a variable the template sets is never silently absent.
    """
    resolver = Resolver(
        names=names,
        parameters=spec.parameters,
        conditions=spec.conditions,
        resource_ids=spec.resource_ids,
    )
    environment: dict[str, str] = {}
    for name, value in spec.environment.items():
        resolved = resolver.resolve(value)
        if resolved is NO_VALUE:
            continue
        environment[name] = resolver.resolve_str(resolved)
    return environment
