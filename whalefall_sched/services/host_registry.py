"""The 2026-07 host's registry of built-in tasks, read without running it.

``app/core/constants/scheduler_jobs.py`` defines ``BUILTIN_SCHEDULER_TASKS``: a dict
literal of task id -> ``BuiltinSchedulerTask(task_name=..., function_name=...,
function_target=..., description=..., editable_fields=(...))``. The module is parsed
with :mod:`ast` and never imported: only string keys, calls of a dataclass defined in
the module (or dict literals) and literal values are accepted; anything else (a call, a name, an
import of the registry, a later change to it) is a :class:`RegistryError` naming
``file:line``. The file is read up to :data:`MAX_REGISTRY_BYTES`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Where the registry module lives in a WhaleFall checkout.
REGISTRY_RELATIVE_PATH = Path("app", "core", "constants", "scheduler_jobs.py")
#: The name of the registry in that module.
REGISTRY_NAME = "BUILTIN_SCHEDULER_TASKS"
#: The registry module is read up to this many bytes (the host's is about 3 KB).
MAX_REGISTRY_BYTES = 256 * 1024
#: The dataclass's fields in their order (positional arguments follow it).
FIELDS = ("task_name", "function_name", "function_target", "description", "editable_fields")
#: Fields every entry must give (``editable_fields`` defaults to ``("trigger",)``).
REQUIRED = FIELDS[:4]
DEFAULT_EDITABLE_FIELDS = ("trigger",)
#: Methods that would change the registry after its definition.
_MUTATORS = frozenset({"update", "pop", "popitem", "setdefault", "clear", "__setitem__"})


class RegistryError(ValueError):
    """The registry cannot be read as literals; the message is one line naming file:line."""


@dataclass(frozen=True)
class BuiltinTask:
    """One entry of the registry, as the host's ``BuiltinSchedulerTask`` holds it."""

    task_id: str
    task_name: str
    function_name: str
    function_target: str
    description: str
    editable_fields: tuple[str, ...] = DEFAULT_EDITABLE_FIELDS


def _error(path: Path, node: ast.AST | int | None, message: str) -> RegistryError:
    line = node if isinstance(node, int) else getattr(node, "lineno", None)
    where = f"{path}:{line}" if line else str(path)
    return RegistryError(
        f"host registry {where}: {message} (the registry is read, never run)".replace("\n", " ")
    )


def _describe(node: ast.AST) -> str:
    """What a node is, in the words of a one-line error."""
    if isinstance(node, ast.Call):
        return "a function call"
    if isinstance(node, ast.Name | ast.Attribute):
        return f"a name ({ast.unparse(node)[:60]})"
    if isinstance(node, ast.JoinedStr):
        return "an f-string"
    if isinstance(node, ast.BinOp):
        return "an expression"
    return f"not a literal ({type(node).__name__})"


def _is_dataclass(node: ast.ClassDef) -> bool:
    """Whether the class is decorated ``@dataclass`` (or ``@dataclasses.dataclass(...)``)."""
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
        if name == "dataclass":
            return True
    return False


def read_registry(path: Path) -> dict[str, BuiltinTask]:
    """The registry in ``path``, by task id, in the order written; raises
    :class:`RegistryError` (nothing in the module runs)."""
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_REGISTRY_BYTES + 1)
    except OSError as exc:
        raise _error(path, None, f"cannot read it ({exc.strerror or exc})") from exc
    if len(data) > MAX_REGISTRY_BYTES:
        raise _error(path, None, f"over the size limit: larger than {MAX_REGISTRY_BYTES:,} bytes")
    try:
        tree = ast.parse(data, filename=str(path))
    except SyntaxError as exc:
        raise _error(path, exc.lineno, f"not valid Python: {exc.msg}") from exc
    except (ValueError, RecursionError, MemoryError) as exc:
        raise _error(path, None, f"cannot be parsed: {type(exc).__name__}") from exc
    return _Parser(path).module(tree)


class _Parser:
    def __init__(self, path: Path) -> None:
        self.path = path
        #: The dataclass constructors defined in the module: name -> (fields, defaults).
        self.classes: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {}

    def error(self, node: ast.AST | int | None, message: str) -> RegistryError:
        return _error(self.path, node, message)

    def module(self, tree: ast.Module) -> dict[str, BuiltinTask]:
        found: ast.expr | None = None
        for statement in tree.body:
            if isinstance(statement, ast.ClassDef):
                if _is_dataclass(statement):
                    self._class(statement)
            elif isinstance(statement, ast.Import | ast.ImportFrom):
                names = {alias.asname or alias.name for alias in statement.names}
                if REGISTRY_NAME in names or "*" in names:
                    raise self.error(statement, f"{REGISTRY_NAME} is imported, not written here")
            elif (value := self._definition(statement)) is not None:
                if found is not None:
                    raise self.error(statement, f"{REGISTRY_NAME} is assigned more than once")
                found = value
            else:
                self._check_no_change(statement)
        if found is None:
            raise self.error(None, f"no `{REGISTRY_NAME} = {{...}}` dict literal")
        return self._registry(found)

    def _definition(self, statement: ast.stmt) -> ast.expr | None:
        """The value assigned to the registry's name by this statement, if it is one."""
        if isinstance(statement, ast.AnnAssign):
            targets: list[ast.expr] = [statement.target]
            value = statement.value
        elif isinstance(statement, ast.Assign):
            targets, value = statement.targets, statement.value
        else:
            return None
        named = [t for t in targets if isinstance(t, ast.Name) and t.id == REGISTRY_NAME]
        if not named:
            return None
        if len(targets) != 1 or value is None:
            raise self.error(statement, f"{REGISTRY_NAME} must be assigned a dict literal alone")
        return value

    def _check_no_change(self, statement: ast.stmt) -> None:
        """Refuse a module-level statement that would change the registry once defined."""
        for node in ast.walk(statement):
            if (
                isinstance(node, ast.Name)
                and node.id == REGISTRY_NAME
                and isinstance(node.ctx, ast.Store | ast.Del)
            ):
                raise self.error(node, f"{REGISTRY_NAME} is rebound or deleted")
            if (
                isinstance(node, ast.Subscript | ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == REGISTRY_NAME
            ):
                changes = isinstance(node.ctx, ast.Store | ast.Del) or (
                    isinstance(node, ast.Attribute) and node.attr in _MUTATORS
                )
                if changes:
                    raise self.error(node, f"{REGISTRY_NAME} is changed after its definition")

    def _class(self, node: ast.ClassDef) -> None:
        """A dataclass of the module: its fields in order and their literal defaults."""
        fields: list[str] = []
        defaults: dict[str, Any] = {}
        for statement in node.body:
            if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                name = statement.target.id
                fields.append(name)
                if statement.value is not None:
                    try:
                        defaults[name] = self._literal(statement.value, f"{node.name}.{name}")
                    except RegistryError as exc:  # an error only if an entry relies on it
                        defaults[name] = exc
        self.classes[node.name] = (tuple(fields), defaults)

    def _registry(self, value: ast.expr) -> dict[str, BuiltinTask]:
        if not isinstance(value, ast.Dict):
            raise self.error(value, f"{REGISTRY_NAME} is {_describe(value)}, not a dict literal")
        registry: dict[str, BuiltinTask] = {}
        for key, entry in zip(value.keys, value.values, strict=True):
            if key is None:
                raise self.error(entry, f"{REGISTRY_NAME} unpacks another mapping (**)")
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                raise self.error(key, f"a key of {REGISTRY_NAME} is {_describe(key)}")
            registry[key.value] = self._entry(key.value, entry)
        return registry

    def _entry(self, task_id: str, node: ast.expr) -> BuiltinTask:
        """One entry: a constructor call with literal arguments, or a dict literal."""
        given: dict[str, Any] = {}
        fields: tuple[str, ...] = FIELDS
        defaults: dict[str, Any] = {}
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                    raise self.error(node, f"task {task_id!r}: want string keys")
                given[key.value] = self._literal(value, f"{key.value} of task {task_id!r}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in self.classes
        ):
            fields, defaults = self.classes[node.func.id]
            if len(node.args) > len(fields):
                raise self.error(node, f"task {task_id!r}: too many positional arguments")
            for name, arg in zip(fields, node.args, strict=False):
                given[name] = self._literal(arg, f"{name} of task {task_id!r}")
            for keyword in node.keywords:
                if keyword.arg is None:
                    raise self.error(keyword.value, f"task {task_id!r}: ** arguments")
                label = f"{keyword.arg} of task {task_id!r}"
                given[keyword.arg] = self._literal(keyword.value, label)
        else:
            what = _describe(node)
            if isinstance(node, ast.Call):
                what += f" ({ast.unparse(node.func)[:60]})"
            raise self.error(
                node,
                f"task {task_id!r} is {what}, not a call of a dataclass of this module "
                "with literal arguments",
            )
        return self._task(task_id, node, {**defaults, **given}, fields)

    def _task(
        self, task_id: str, node: ast.expr, values: dict[str, Any], fields: tuple[str, ...]
    ) -> BuiltinTask:
        for value in values.values():
            if isinstance(value, RegistryError):
                raise value
        unknown = sorted(set(values) - set(fields) - set(FIELDS))
        if unknown:
            raise self.error(node, f"task {task_id!r}: unknown field(s) {', '.join(unknown)}")
        missing = [name for name in REQUIRED if name not in values]
        if missing:
            raise self.error(node, f"task {task_id!r}: missing {', '.join(missing)}")
        for name in REQUIRED:
            if not isinstance(values[name], str):
                raise self.error(node, f"task {task_id!r}: {name} must be a string")
        editable = values.get("editable_fields", DEFAULT_EDITABLE_FIELDS)
        if not isinstance(editable, tuple | list) or not all(isinstance(v, str) for v in editable):
            raise self.error(node, f"task {task_id!r}: editable_fields must be strings")
        return BuiltinTask(
            task_id=task_id,
            task_name=values["task_name"],
            function_name=values["function_name"],
            function_target=values["function_target"],
            description=values["description"],
            editable_fields=tuple(editable),
        )

    def _literal(self, node: ast.expr, what: str) -> Any:
        """A string, number, bool or None, or a tuple/list of them; else an error."""
        if isinstance(node, ast.Constant) and isinstance(
            node.value, str | int | float | bool | type(None)
        ):
            return node.value
        if isinstance(node, ast.Tuple | ast.List):
            items = [self._literal(item, what) for item in node.elts]
            return tuple(items) if isinstance(node, ast.Tuple) else items
        raise self.error(node, f"{what} is {_describe(node)}, not a literal")
