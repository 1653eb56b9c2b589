"""Load ``environments/<env>/`` into a validated :class:`Config`.

Every ``*.yaml`` / ``*.yml`` file under the environment directory is read; sections are
merged by name; ``environment.yaml`` is required. Problems are collected (not raised one by
one) and reported together, each with ``file:line:column``, sorted by file and line.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from hookplane.config.models import RESOURCE_NAME, SECTIONS, EnvironmentSpec
from hookplane.config.yamlio import Positions, YamlProblem, decode, gc_paused, parse
from hookplane.errors import ConfigError, Diagnostic

ENVIRONMENTS_DIR = "environments"
ENVIRONMENT_FILE = "environment.yaml"


@dataclass(frozen=True)
class Resource:
    """One declared resource: its address, validated spec, raw YAML data and origin file."""

    kind: str
    name: str
    spec: BaseModel
    raw: dict[str, Any]
    file: str
    valid: bool = True

    @property
    def address(self) -> str:
        return f"{self.kind}.{self.name}"

    def canonical(self) -> dict[str, Any]:
        """The resource as plain JSON data with defaults filled in (what plan compares)."""
        data: dict[str, Any] = self.spec.model_dump(mode="json", by_alias=True, exclude_none=True,
                                                    exclude={"renamed_from"})
        return data


@dataclass
class Config:
    """A loaded, validated environment."""

    root: Path
    directory: Path
    environment: EnvironmentSpec
    environment_file: str
    resources: dict[str, dict[str, Resource]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    """Relative file name -> text, kept for positioned messages after loading."""

    @property
    def name(self) -> str:
        return self.environment.name

    def section(self, kind: str) -> dict[str, Resource]:
        return self.resources.get(kind, {})

    def get(self, kind: str, name: str) -> Resource | None:
        return self.resources.get(kind, {}).get(name)

    def all_resources(self) -> Iterable[Resource]:
        for kind in SECTIONS:
            yield from self.resources.get(kind, {}).values()

    def digest(self) -> str:
        """A stable digest of the declared configuration (for plans and the audit log)."""
        data = {
            "environment": self.environment.model_dump(mode="json"),
            "resources": {
                r.address: r.canonical() for r in self.all_resources()
            },
        }
        blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()

    def position(self, file: str, path: tuple[Any, ...], *, key: bool = False) -> tuple[int, int]:
        text = self.files.get(file)
        if text is None:
            return (0, 0)
        return Positions(text).find(path, key=key)


class _Collector:
    """Collects problems as (file, yaml path) and resolves positions once, at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._pending: list[tuple[str, tuple[Any, ...], bool, str, str, str]] = []
        self._texts: dict[str, str] = {}
        self._fixed: list[Diagnostic] = []

    def text(self, file: str, text: str) -> None:
        self._texts[file] = text

    def add(self, file: str, path: tuple[Any, ...], message: str, *, key: bool = False,
            address: str = "", hint: str = "") -> None:
        self._pending.append((file, path, key, message, address, hint))

    def at(self, file: str, line: int, column: int, message: str) -> None:
        self._fixed.append(Diagnostic(file, line, column, message))

    def __bool__(self) -> bool:
        return bool(self._pending or self._fixed)

    def diagnostics(self) -> list[Diagnostic]:
        positions: dict[str, Positions] = {}
        result = list(self._fixed)
        for file, path, key, message, address, hint in self._pending:
            text = self._texts.get(file)
            if text is None:
                line, column = (0, 0)
            else:
                finder = positions.setdefault(file, Positions(text))
                line, column = finder.find(path, key=key)
            prefix = f"{address}: " if address else ""
            result.append(Diagnostic(file, line, column, prefix + message, address, hint))
        return sorted(result)

    def raise_if_any(self) -> None:
        if self:
            raise ConfigError(self.diagnostics())


def _leads_outside(path: Path, root: Path) -> bool:
    """True when ``path`` exists and resolves (through symbolic links) outside ``root``."""
    if not path.exists():
        return False
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return True
    return False


_OUTSIDE = ("is a symbolic link (or inside one) that leads outside the project; Hookplane "
            "reads configuration only from inside the project root, so that a pull request "
            "cannot make plan read files of the machine it runs on")


def _entries(directory: Path, root: Path) -> tuple[list[Path], list[Path]]:
    """Every entry under ``directory`` (links not followed into), and those of them — or
    ``directory`` itself — that lead outside ``root``. Nothing is opened: links are resolved,
    never read."""
    if _leads_outside(directory, root):
        return [], [directory]  # not even listed
    entries = sorted(directory.rglob("*"))
    return entries, [path for path in entries
                     if path.is_symlink() and _leads_outside(path, root)]


def _refuse(escaped: list[Path], root: Path) -> ConfigError:
    return ConfigError([Diagnostic(Path(os.path.relpath(path, root)).as_posix(), 0, 0,
                                   _OUTSIDE, hint="replace the link with the file itself")
                        for path in escaped])


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def suggest(word: str, options: Iterable[str]) -> str:
    """``" (did you mean 'events'?)"`` or an empty string.

    A close spelling wins; failing that, the one option that ``word`` abbreviates
    (``prod`` -> ``production``), if exactly one does.
    """
    options = list(options)
    match = difflib.get_close_matches(str(word), options, n=1, cutoff=0.6)
    if not match and len(str(word)) >= 3:
        match = [o for o in options if o.startswith(str(word)) and o != word]
        match = match if len(match) == 1 else []
    return f" (did you mean '{match[0]}'?)" if match else ""


def _model_fields(model: type[BaseModel]) -> list[str]:
    names = []
    for name, info in model.model_fields.items():
        names.append(info.alias or name)
    return names


def _resolve_model(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model that owns the last element of ``loc`` (for 'did you mean' suggestions)."""
    current: Any = model
    skip = 0
    for part in loc[:-1]:
        if skip:  # a dict key or list index between a field and the model it holds
            skip -= 1
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        fields = {(info.alias or name): info for name, info in current.model_fields.items()}
        info = fields.get(str(part))
        if info is None:
            return None
        current, skip = _unwrap(info.annotation)
        if current is None:
            return None
    if skip == 0 and isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return None


def _unwrap(annotation: Any, depth: int = 0) -> tuple[Any, int]:
    """The BaseModel inside ``X | None`` / ``dict[str, X]`` / ``list[X]``, if any, and how
    many container levels (dict keys, list indexes) lie between the field and it."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, depth
    origin = getattr(annotation, "__origin__", None)
    container = origin in (dict, list)
    args = getattr(annotation, "__args__", ()) or ()
    if origin is dict:
        args = args[1:]
    for arg in args:
        found, found_depth = _unwrap(arg, depth + 1 if container else depth)
        if found is not None:
            return found, found_depth
    return None, 0


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop pydantic's union-branch and function tags from an error location."""
    cleaned: list[Any] = []
    for part in loc:
        if isinstance(part, str) and (
            part in {"str", "int", "float", "bool", "list", "dict", "none"}
            or part.startswith(("function-", "literal[", "tagged-union", "union[", "lax-",
                                "list[", "dict["))
            or part in {"RetryPolicy", "Action", "FieldSchema"}
        ):
            continue
        cleaned.append(part)
    return tuple(cleaned)


def _humanise(error: Any) -> str:
    kind = error["type"]
    message: str = error["msg"]
    if kind == "missing":
        return f"missing required field '{error['loc'][-1]}'"
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    if kind == "literal_error":
        got = json.dumps(error.get("input"), default=str)[:80]
        expected = str(error.get("ctx", {}).get("expected", ""))
        options = [o.strip().strip("'") for o in expected.replace(" or ", ", ").split(",")]
        close = suggest(str(error.get("input")), options)
        message = f"{got} is not one of {expected}{close}"
    return message


def validation_diagnostics(
    collector: _Collector,
    exc: ValidationError,
    *,
    model: type[BaseModel],
    file: str,
    base: tuple[Any, ...],
    address: str,
) -> None:
    """Turn a pydantic ValidationError into positioned diagnostics with suggestions.

    A misspelt required key ('evnts') is reported once, as an unknown key with its
    suggestion; the "missing required field 'events'" it also causes is left out.
    """
    seen: set[tuple[tuple[Any, ...], str]] = set()
    errors = exc.errors(include_url=False)
    misspelt: set[tuple[Any, ...]] = set()
    for error in errors:
        if error["type"] == "extra_forbidden":
            loc = _clean_loc(tuple(error["loc"]))
            owner = _resolve_model(model, loc)
            close = difflib.get_close_matches(
                str(loc[-1]), _model_fields(owner) if owner else [], n=1, cutoff=0.6)
            if close:
                misspelt.add((*loc[:-1], close[0]))
    # ``retry: {attempts: 0}`` fails both branches of ``"none" | RetryPolicy``: keep the
    # policy's own error, not "is not one of 'none'" about the whole mapping
    # (and ``retry: always`` is reported once, as the literal that it is not)
    located = [(_clean_loc(tuple(e["loc"])), e["type"]) for e in errors]
    literal = {loc for loc, kind in located if kind == "literal_error"}
    for error in errors:
        loc = _clean_loc(tuple(error["loc"]))
        if error["type"] == "literal_error" and isinstance(error.get("input"), dict | list) and any(
            other[: len(loc)] == loc and (len(other) > len(loc) or kind != "literal_error")
            for other, kind in located
        ):
            continue
        if error["type"] in ("model_type", "dict_type", "list_type") and loc in literal:
            continue
        if error["type"] == "extra_forbidden":
            owner = _resolve_model(model, loc)
            options = _model_fields(owner) if owner else []
            message = f"unknown key '{loc[-1]}'{suggest(str(loc[-1]), options)}"
            key = True
        elif error["type"] == "missing":
            if loc in misspelt:
                continue
            message = _humanise(error)
            loc = loc[:-1]
            key = False
        elif loc and loc[-1] == "[key]":  # ``{true: Y}``: YAML read the key as a non-string
            loc = loc[:-2]  # pydantic names a bool key 0/1: point at the mapping instead
            shown = json.dumps(error.get("input"), default=str)
            message = f"key {shown} must be text: quote it ('{shown}': …)"
            key = False
        else:
            message = _humanise(error)
            key = False
        where = ".".join(str(p) for p in loc)
        if where and error["type"] != "extra_forbidden":
            message = f"{where}: {message}"
        marker = (loc, message)
        if marker in seen:
            continue
        seen.add(marker)
        collector.add(file, base + loc, message, key=key, address=address)


def _read(path: Path, rel: str, collector: _Collector) -> Any:
    try:
        data = path.read_bytes()
    except OSError as exc:
        collector.at(rel, 0, 0, f"cannot read file: {exc.strerror}")
        return None
    try:
        text = decode(data)
        collector.text(rel, text)
        return parse(text)
    except YamlProblem as problem:
        collector.at(rel, problem.line, problem.column, problem.message)
        return None


def environment_files(directory: Path, *, root: Path | None = None,
                      skip_outside: bool = False) -> list[Path]:
    """The YAML files of an environment directory (``*.yaml``, ``*.yml``, at any depth).

    A symbolic link (or the directory itself) leading outside the project ``root`` (by
    default the directory's grandparent, ``<root>/environments/<env>``) is never opened: it
    raises :class:`ConfigError` naming the link, or with ``skip_outside`` is left out. Every
    reader of an environment's files (load, plan's file digests, promote, edits, the
    console's declaration index) lists them here.
    """
    root = directory.parent.parent if root is None else root
    entries, escaped = _entries(directory, root)
    if escaped and not skip_outside:
        raise _refuse(escaped, root)
    files = [p for p in entries if p.suffix in (".yaml", ".yml") and p not in escaped
             and p.is_file()]
    return sorted(files, key=lambda p: p.relative_to(directory).as_posix())


def load(directory: Path, *, root: Path | None = None) -> Config:
    """Load and validate one environment directory. Raises :class:`ConfigError`."""
    from hookplane.config.validate import validate_config

    root = root or directory.parent.parent
    collector = _Collector(root)
    rel_dir = _relative(directory, root)
    if not directory.is_dir():
        raise ConfigError([Diagnostic(rel_dir, 0, 0, "environment directory does not exist")])
    env_path = directory / ENVIRONMENT_FILE
    files_here = environment_files(directory, root=root)  # refuses links out, reads nothing
    env_rel = _relative(env_path, root)
    if not env_path.is_file():
        raise ConfigError([Diagnostic(
            env_rel, 0, 0,
            "missing environment.yaml (name, kind: preview|production, promotes_to); "
            "'hookplane init' scaffolds one",
        )])

    environment: EnvironmentSpec | None = None
    raw_env = _read(env_path, env_rel, collector)
    if isinstance(raw_env, dict):
        for section in (k for k in raw_env if k in SECTIONS):
            collector.add(env_rel, (section,),
                          f"'{section}' belongs in a resource file, not in "
                          "environment.yaml (e.g. triggers.yaml)", key=True)
        try:
            environment = EnvironmentSpec.model_validate(
                {k: v for k, v in raw_env.items() if k not in SECTIONS and not is_extension(k)})
        except ValidationError as exc:
            validation_diagnostics(collector, exc, model=EnvironmentSpec, file=env_rel,
                                   base=(), address="")
        if environment is not None and environment.name != directory.name:
            collector.add(env_rel, ("name",),
                          f"name '{environment.name}' does not match the directory "
                          f"'{directory.name}'; rename one of them")
    elif raw_env is not None or not collector:
        collector.at(env_rel, 1, 1, "environment.yaml must be a mapping with name and kind")

    resources: dict[str, dict[str, Resource]] = {kind: {} for kind in SECTIONS}
    files: dict[str, str] = {}
    with gc_paused():
        for path in files_here:
            if path == env_path:
                continue
            rel = _relative(path, root)
            data = _read(path, rel, collector)
            if data is None:
                continue
            if not isinstance(data, dict):
                collector.add(rel, (), "a resource file must be a mapping of sections "
                              f"({', '.join(SECTIONS)})")
                continue
            for section, body in data.items():
                _load_section(collector, rel, section, body, resources)
    files.update(collector._texts)

    if environment is None:
        collector.raise_if_any()
        raise ConfigError([Diagnostic(env_rel, 1, 1, "environment.yaml is invalid")])

    config = Config(root=root, directory=directory, environment=environment,
                    environment_file=env_rel, resources=resources, files=files)
    validate_config(config, collector.add)
    collector.raise_if_any()
    return config


def is_extension(key: Any) -> bool:
    """A top-level ``x-`` key (``x-defaults: &defaults …``, Docker Compose's convention): a
    place for anchors that resources merge (``<<: *defaults``); the model ignores it."""
    return isinstance(key, str) and key.startswith("x-")


def _load_section(collector: _Collector, rel: str, section: Any, body: Any,
                  resources: dict[str, dict[str, Resource]]) -> None:
    if is_extension(section):
        return
    model = SECTIONS.get(str(section))
    if model is None:
        hint = suggest(str(section), SECTIONS)
        extra = " (environment fields belong in environment.yaml)" if section in (
            "name", "kind", "promotes_to") else ""
        collector.add(rel, (section,), f"unknown section '{section}'{hint}{extra}; "
                      f"sections are {', '.join(SECTIONS)} (and x-… keys for shared "
                      "anchors)", key=True)
        return
    if body is None:
        return
    if not isinstance(body, dict):
        collector.add(rel, (section,), f"'{section}' must map names to definitions")
        return
    known = resources[section]
    for name, spec in body.items():
        address = f"{section}.{name}"
        if isinstance(name, bool | int | float) or name is None:
            collector.add(rel, (section,),
                          f"a {section} name reads as {json.dumps(name)}: YAML takes unquoted "
                          "on/off/yes/no/true/false/null and numbers as values, not names; "
                          "quote the name (e.g. \"off\": …) or choose another", key=True)
            continue
        if not isinstance(name, str) or not RESOURCE_NAME.match(name):
            collector.add(rel, (section, name),
                          f"invalid name '{name}': use lowercase letters, digits, '-' and '_' "
                          "(at most 63 characters, starting with a letter or digit)", key=True)
            continue
        previous = known.get(name)
        if previous is not None:
            line, column = Positions(collector._texts[previous.file]).find(
                (section, name), key=True)
            collector.add(rel, (section, name),
                          f"defined twice: also at {previous.file}:{line}:{column}; "
                          "keep one definition", key=True, address=address)
            continue
        if not isinstance(spec, dict):
            collector.add(rel, (section, name), "must be a mapping of fields",
                          address=address)
            continue
        try:
            validated = model.model_validate(spec)
        except ValidationError as exc:
            validation_diagnostics(collector, exc, model=model, file=rel,
                                   base=(section, name), address=address)
            # keep the name reserved so references to it do not cascade into more errors
            known[name] = Resource(section, name, model.model_construct(), spec, rel, valid=False)
            continue
        known[name] = Resource(section, name, validated, spec, rel)


def environments_root(root: Path) -> Path:
    return root / ENVIRONMENTS_DIR


def list_environments(root: Path) -> list[str]:
    base = environments_root(root)
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))


def load_environment(root: Path, name: str) -> Config:
    directory = environments_root(root) / name
    if not directory.is_dir():
        known = list_environments(root)
        hint = suggest(name, known)
        raise ConfigError([Diagnostic(
            _relative(directory, root), 0, 0,
            f"no environment '{name}'{hint}; environments here: "
            f"{', '.join(known) if known else 'none (run hookplane init)'}",
        )])
    return load(directory, root=root)


def promotion_problems(config: Config, names: list[str]) -> list[Diagnostic]:
    """``promotes_to`` must name another environment of the project (``names``)."""
    target = config.environment.promotes_to
    if target is None:
        return []
    line, column = config.position(config.environment_file, ("promotes_to",))
    if target == config.name:
        return [Diagnostic(config.environment_file, line, column,
                           "an environment cannot promote to itself")]
    if target not in names:
        return [Diagnostic(config.environment_file, line, column,
                           f"promotes_to '{target}' is not an environment"
                           f"{suggest(target, names)}")]
    return []


def load_all(root: Path) -> dict[str, Config]:
    """Load every environment; all problems of all environments in one ConfigError."""
    configs: dict[str, Config] = {}
    problems: list[Diagnostic] = []
    names = list_environments(root)
    if not names:
        raise ConfigError([Diagnostic(
            ENVIRONMENTS_DIR, 0, 0,
            "no environments found; run 'hookplane init' or pass -C/--root DIR",
        )])
    for name in names:
        try:
            configs[name] = load_environment(root, name)
        except ConfigError as exc:
            problems.extend(exc.diagnostics)
    for config in configs.values():
        problems.extend(promotion_problems(config, names))
    if problems:
        raise ConfigError(problems)
    return configs
