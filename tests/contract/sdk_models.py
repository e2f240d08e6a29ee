"""Genesys Cloud's published API, read from its official Python SDK, as a contract for JSON.

The SDK (`purecloudplatformclientv2`, pinned in the Makefile) is generated from Genesys's own API
definition. Each model class lists its fields (`swagger_types`: attribute -> type, `attribute_map`:
attribute -> JSON key) and, in its setters, the values an enum field may take (`allowed_values`).
Each API method names its path template, HTTP method, body model (in its docstring) and
`response_type`. This module turns both into lookups:

    model("Participant")                         -> Model: JSON key -> SDK type, enum values
    endpoint("GET", "/api/v2/conversations/c1")  -> Endpoint: template, body and response types
    check(value, "Conversation")                 -> Check: fields looked at, mismatches by JSON path

A check walks the JSON through lists, dicts and nested models: every key must be a field of its
model, every enum value one of the allowed ones (exactly as spelt: the SDK's setters compare
case-insensitively, Genesys's API sends one spelling), every value of its field's type; datetimes
in Genesys's form, e.g. `2026-11-23T10:00:05.000Z`. The key `x-sim` (the simulator's own
settings) is allowed anywhere. A null is accepted for any field (an unset field).
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import pkgutil
import re
from dataclasses import dataclass, field

SDK_PACKAGE = "PureCloudPlatformClientV2"
SDK_VERSION = "269.0.0"
SIM_ONLY_KEY = "x-sim"

GENESYS_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
GENESYS_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
PRIMITIVES = {"str", "int", "float", "bool", "datetime", "date", "object"}


@functools.cache
def sdk():
    """The SDK's top-level package (importing it loads every model and API class)."""
    return importlib.import_module(SDK_PACKAGE)


def sdk_version():
    """The installed SDK's version, or None when it is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("purecloudplatformclientv2")
    except PackageNotFoundError:
        return None


# --- models ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Model:
    """One SDK model, keyed by JSON name: the SDK type of each field and the enum values allowed."""

    name: str
    types: dict[str, str]
    enums: dict[str, tuple[str, ...]]


@functools.cache
def model(name: str) -> Model:
    """The SDK model class `name`, e.g. `Participant`; KeyError when the SDK has none."""
    cls = getattr(sdk(), name, None)
    is_model_class = inspect.isclass(cls) and cls.__module__.startswith(f"{SDK_PACKAGE}.models.")
    instance = cls() if is_model_class else None
    if not hasattr(instance, "swagger_types"):
        raise KeyError(f"the SDK has no model {name}")
    types, enums = {}, {}
    for attribute, sdk_type in instance.swagger_types.items():
        key = instance.attribute_map[attribute]
        types[key] = sdk_type
        allowed = _allowed_values(cls, attribute)
        if allowed is not None:
            enums[key] = allowed
    return Model(name, types, enums)


_ALLOWED = re.compile(r"allowed_values = (\[.*?\])\n")


def _allowed_values(cls, attribute):
    """The `allowed_values` list in the setter of `attribute`, if it has one."""
    prop = getattr(cls, attribute, None)
    if not isinstance(prop, property) or prop.fset is None:
        return None
    found = _ALLOWED.search(inspect.getsource(prop.fset))
    return tuple(ast.literal_eval(found.group(1))) if found else None


# --- endpoints ---------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Endpoint:
    """One SDK API method: where it goes, what it sends and what it gets back."""

    operation: str  # e.g. ConversationsApi.get_conversation
    method: str
    path: str  # template, e.g. /api/v2/conversations/{conversationId}
    body: str | None  # SDK type of the request body, e.g. MediaParticipantRequest, list[ChannelTopic]
    response: str | None  # SDK response_type, None when the API answers without a body
    query: dict[str, str]  # query parameter name -> SDK type, e.g. {"pageSize": "int"}

    def __str__(self):
        return f"{self.method} {self.path}"


_METHOD = re.compile(r"\n    def (\w+)\(self")
_RESOURCE = re.compile(r"resource_path = '([^']+)'")
_CALL = re.compile(r"call_api\(resource_path, '(\w+)'")
_RESPONSE = re.compile(r"response_type=(?:'([^']*)'|None)")
_BODY = re.compile(r":param (\S+) body:")
_QUERY = re.compile(r"query_params\['([^']+)'\] = params\['(\w+)'\]")
_PARAM = re.compile(r":param (\S+) (\w+):")


@functools.cache
def endpoints() -> tuple[Endpoint, ...]:
    """Every endpoint of every `*Api` class in the SDK's `apis` package, parsed from its source.

    (One endpoint may appear in two API classes, e.g. the conversation details query in both
    AnalyticsApi and ConversationsApi; the first is kept.)"""
    apis = importlib.import_module(f"{SDK_PACKAGE}.apis")
    found: dict[tuple[str, str], Endpoint] = {}
    for info in sorted(pkgutil.iter_modules(apis.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{apis.__name__}.{info.name}")
        source = inspect.getsource(module)
        classes = re.findall(r"^class (\w+)\(", source, re.M)
        class_name = classes[0] if classes else info.name
        starts = [m.start() for m in _METHOD.finditer(source)] + [len(source)]
        for start, end in zip(starts, starts[1:]):
            chunk = source[start:end]
            resource, call = _RESOURCE.search(chunk), _CALL.search(chunk)
            if not (resource and call):
                continue
            response = _RESPONSE.search(chunk)
            body = _BODY.search(chunk)
            endpoint = Endpoint(
                operation=f"{class_name}.{_METHOD.search(chunk).group(1)}",
                method=call.group(1),
                path=resource.group(1),
                body=body.group(1) if body else None,
                response=(response.group(1) or None) if response else None,
                query=_query_types(chunk),
            )
            found.setdefault((endpoint.method, endpoint.path), endpoint)
    return tuple(found.values())


def _query_types(chunk):
    """{query name: SDK type} of one API method, from its query_params lines and docstring."""
    types = {python: sdk_type for sdk_type, python in _PARAM.findall(chunk)}
    return {name: types.get(python, "str") for name, python in _QUERY.findall(chunk)}


def _segments(path):
    return path.strip("/").split("/")


def _literal_matches(template: str, path: str):
    """How many literal segments of `template` match `path`, or None when it does not match.
    A `{name}` segment matches any one non-empty segment (a template matches itself)."""
    parts, wanted = _segments(template), _segments(path)
    if len(parts) != len(wanted):
        return None
    literals = 0
    for part, segment in zip(parts, wanted):
        if part == segment:
            literals += 1
        elif not (part.startswith("{") and part.endswith("}") and segment):
            return None
    return literals


def template_matches(template: str, path: str) -> bool:
    return _literal_matches(template, path) is not None


def endpoint(method: str, path: str) -> Endpoint | None:
    """The SDK endpoint a request to `path` (concrete or a template) with `method` goes to.

    Of several matching templates, the one with the most literal segments wins
    (`/conversations/calls/{conversationId}` over `/conversations/{conversationId}/...`)."""
    best, best_literals = None, -1
    for candidate in endpoints():
        if candidate.method == method.upper():
            literals = _literal_matches(candidate.path, path)
            if literals is not None and literals > best_literals:
                best, best_literals = candidate, literals
    return best


# --- checking JSON against a model ---------------------------------------------------------------


@dataclass
class Check:
    """The result of checking one JSON value: how many fields were looked at, what did not match."""

    fields: int = 0
    mismatches: list[str] = field(default_factory=list)

    def add(self, path, problem):
        self.mismatches.append(f"{path or '(the whole body)'}: {problem}")


def _join(path, key):
    if re.fullmatch(r"[A-Za-z_$][\w$-]*", key):
        return f"{path}.{key}" if path else key
    return f"{path}[{key!r}]"


def _describe(value):
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 60 else text[:57] + "..."


def check(value, sdk_type: str, path: str = "", result: Check | None = None) -> Check:
    """Checks `value` (parsed JSON) against the SDK type `sdk_type` (a model name, `list[...]`,
    `dict(str, ...)` or a primitive); `path` is the JSON path of `value` for the messages."""
    result = Check() if result is None else result
    if value is None or sdk_type == "object":
        return result
    if sdk_type.startswith("list["):
        if not isinstance(value, list):
            result.add(path, f"{_describe(value)} is not a list ({sdk_type})")
            return result
        for index, item in enumerate(value):
            check(item, sdk_type[5:-1], f"{path}[{index}]", result)
        return result
    if sdk_type.startswith("dict("):
        if not isinstance(value, dict):
            result.add(path, f"{_describe(value)} is not an object ({sdk_type})")
            return result
        item_type = sdk_type[len("dict("):-1].split(",", 1)[1].strip()
        for key, item in value.items():
            if key != SIM_ONLY_KEY:
                check(item, item_type, _join(path, key), result)
        return result
    if sdk_type in PRIMITIVES:
        problem = _primitive_problem(value, sdk_type)
        if problem:
            result.add(path, problem)
        return result
    return _check_model(value, sdk_type, path, result)


def _check_model(value, name, path, result):
    try:
        spec = model(name)
    except KeyError:
        result.add(path, f"the SDK has no model {name}")
        return result
    if not isinstance(value, dict):
        result.add(path, f"{_describe(value)} is not an object ({name})")
        return result
    for key, item in value.items():
        if key == SIM_ONLY_KEY:
            continue
        where = _join(path, key)
        result.fields += 1
        if key not in spec.types:
            result.add(where, f"not in {name}")
            continue
        allowed = spec.enums.get(key)
        if allowed is not None and isinstance(item, str) and item not in allowed:
            hint = ""
            if item.lower() in map(str.lower, allowed):
                hint = " (differs only in case)"
            result.add(where, f"{_describe(item)} is not one of {name}.{key}'s {list(allowed)}{hint}")
            continue
        check(item, spec.types[key], where, result)
    return result


def query_value_problem(value: str, sdk_type: str):
    """Why a query parameter's text is not of its SDK type, or None (lists are comma-separated)."""
    if sdk_type.startswith("list["):
        problems = [query_value_problem(v, sdk_type[5:-1]) for v in value.split(",")]
        return next((p for p in problems if p), None)
    pattern = {"int": r"-?\d+", "bool": r"true|false", "datetime": GENESYS_DATETIME.pattern,
               "date": GENESYS_DATE.pattern}.get(sdk_type)
    if pattern and not re.fullmatch(pattern, value):
        return f'"{value}" is not {_a(sdk_type)}'
    return None


def _primitive_problem(value, sdk_type):
    ok = {
        "str": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "datetime": isinstance(value, str) and GENESYS_DATETIME.fullmatch(value) is not None,
        "date": isinstance(value, str) and GENESYS_DATE.fullmatch(value) is not None,
    }[sdk_type]
    if ok:
        return None
    if sdk_type == "datetime":
        return f"{_describe(value)} is not a Genesys datetime (yyyy-mm-ddThh:mm:ss.sssZ)"
    return f"{_describe(value)} is not {_a(sdk_type)}"


def _a(sdk_type):
    return f"{'an' if sdk_type[0] in 'aeiou' else 'a'} {sdk_type}"
