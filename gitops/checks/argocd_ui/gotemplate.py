"""A model of Go's text/template, enough to render Argo CD's deep links and notification
templates offline.

What Argo CD runs: deep links parse each `url` with text/template and sprig's generic
functions (argo-cd v3.5.1 server/deeplinks/deeplinks.go); notification templates with sprig's
text functions (argoproj/notifications-engine at the commit argo-cd v3.5.1's go.mod pins,
pkg/templates/service.go). Both execute over JSON-shaped data (maps of `any`) with the
default `missingkey` option, which is what this model reproduces:

- a missing map key is an invalid value: it prints "<no value>", and a field of it is again
  invalid (no error); a key holding JSON null prints "<no value>" too, but a field of it is
  the error "nil pointer evaluating interface {}.<field>";
- a field of a string, number or list is an error ("can't evaluate field ...");
- a function receives nil for an invalid argument; `eq`/`ne` compare values of one basic
  kind and fail on two valid values of different kinds;
- `and`/`or` stop at the first value that decides them and return it; truth is Go's
  (nil, false, 0, "", empty list or map are false).

Supported: text, comments, trim markers, `if`/`else if`/`else`, `range` (with `$i, $v :=`
and `else`), `with`, variables (`$`, `:=`, `=`), pipelines, parenthesised pipelines,
string/raw/number/bool/nil literals and the functions in `functions`. Anything else
(`define`, `template`, `block`, `break`, methods) raises NotModelled: the check reports it
as "not evaluable offline" instead of guessing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus


class TemplateError(Exception):
    """What Go's parse or execute would return (the text is this model's)."""


class NotModelled(TemplateError):
    """A construct or function this model does not implement."""


class _Missing:
    """Go's invalid reflect.Value: what a missing map key yields."""

    def __repr__(self) -> str:
        return "<no value>"


MISSING: Any = _Missing()
NO_VALUE = "<no value>"
_NOPIPE: Any = object()  # no value piped into a command

# --- lexing ---------------------------------------------------------------------------

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_TOKEN = re.compile(
    r"""\s*(?:
    (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<declare>:=)
  | (?P<assign>=)
  | (?P<pipe>\|)
  | (?P<open>\()
  | (?P<close>\))
  | (?P<comma>,)
  | (?P<variable>\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
  | (?P<field>(?:\.[A-Za-z0-9_]+)+|\.)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<fields_after>(?:\.[A-Za-z0-9_]+)+)
    )""",
    re.X,
)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    spaced: bool = False  # whitespace before it: `(x).f` is a field of x, `(x) .f` an argument


def _tokens(source: str) -> list[Token]:
    out: list[Token] = []
    position = 0
    while position < len(source):
        if source[position:].strip() == "":
            break
        match = _TOKEN.match(source, position)
        if not match or match.end() == position:
            raise TemplateError(f"unexpected {source[position:].strip()[:20]!r} in command")
        kind = match.lastgroup or ""
        spaced = match.start(kind) > position
        out.append(Token(kind, match.group(kind), spaced))
        position = match.end()
    return out


# --- parse tree -------------------------------------------------------------------------


@dataclass
class Text:
    text: str


@dataclass
class Command:
    operands: list[Any]  # each a Token, a Pipeline (parenthesised) or ("chain", Pipeline, ".a.b")


@dataclass
class Pipeline:
    commands: list[Command]
    declare: list[str] = field(default_factory=list)
    assign: bool = False  # `$x = ...` rather than `$x := ...`


@dataclass
class Action:
    pipeline: Pipeline


@dataclass
class Branch:
    keyword: str  # if, range, with
    pipeline: Pipeline
    body: list[Any]
    otherwise: list[Any]


def parse(source: str) -> list[Any]:
    """The template's nodes, or TemplateError as text/template's Parse would fail."""
    pieces: list[tuple[str, str]] = []
    position = 0
    for match in _ACTION.finditer(source):
        text = source[position : match.start()]
        if match.group(1):
            text = text.rstrip()
        pieces.append(("text", text))
        pieces.append(("action", match.group(2).strip()))
        position = match.end()
        if match.group(3):
            rest = source[position:]
            position += len(rest) - len(rest.lstrip())
    pieces.append(("text", source[position:]))
    if "{{" in "".join(p for k, p in pieces if k == "text"):
        raise TemplateError("unclosed action")
    nodes, end = _parse_list(pieces, 0, ())
    if end < len(pieces):
        raise TemplateError(f"unexpected {{{{{pieces[end][1]}}}}}")
    return nodes


def _parse_list(
    pieces: list[tuple[str, str]], index: int, stops: tuple[str, ...]
) -> tuple[list[Any], int]:
    nodes: list[Any] = []
    while index < len(pieces):
        kind, text = pieces[index]
        if kind == "text":
            if text:
                nodes.append(Text(text))
            index += 1
            continue
        word = text.split(None, 1)[0] if text else ""
        if word in stops:
            return nodes, index
        if text.startswith("/*"):
            index += 1
            continue
        if word in ("if", "range", "with"):
            branch, index = _parse_branch(pieces, index, word, text[len(word) :])
            nodes.append(branch)
            continue
        if word in ("define", "template", "block", "break", "continue"):
            raise NotModelled(f"{{{{{word}}}}} is not modelled")
        if word in ("else", "end"):
            raise TemplateError(f"unexpected {{{{{word}}}}}")
        nodes.append(Action(_pipeline(_tokens(text))))
        index += 1
    if stops:
        raise TemplateError(f"unexpected EOF: missing {{{{end}}}} ({'/'.join(stops)})")
    return nodes, index


def _parse_branch(
    pieces: list[tuple[str, str]], index: int, keyword: str, head: str
) -> tuple[Branch, int]:
    pipeline = _pipeline(_tokens(head))
    body, index = _parse_list(pieces, index + 1, ("else", "end"))
    otherwise: list[Any] = []
    text = pieces[index][1]
    if text.startswith("else"):
        rest = text[len("else") :].strip()
        if rest.startswith("if ") and keyword == "if":
            nested, index = _parse_branch(pieces, index, "if", rest[len("if") :])
            return Branch(keyword, pipeline, body, [nested]), index
        otherwise, index = _parse_list(pieces, index + 1, ("end",))
    return Branch(keyword, pipeline, body, otherwise), index + 1


def _pipeline(tokens: list[Token]) -> Pipeline:
    declare: list[str] = []
    assign = False
    for position, token in enumerate(tokens):
        if token.kind in ("declare", "assign"):
            names = [t for t in tokens[:position] if t.kind != "comma"]
            if not names or any(t.kind != "variable" for t in names):
                raise TemplateError("bad variable declaration")
            declare = [t.text for t in names]
            assign = token.kind == "assign"
            tokens = tokens[position + 1 :]
            break
    commands, rest = _commands(tokens)
    if rest:
        raise TemplateError(f"unexpected {rest[0].text!r}")
    if not commands:
        raise TemplateError("missing value for command")
    return Pipeline(commands, declare, assign)


def _commands(tokens: list[Token]) -> tuple[list[Command], list[Token]]:
    commands: list[Command] = []
    operands: list[Any] = []
    while tokens:
        token = tokens[0]
        if token.kind == "close":
            break
        tokens = tokens[1:]
        if token.kind == "pipe":
            if not operands:
                raise TemplateError("missing command before |")
            commands.append(Command(operands))
            operands = []
        elif token.kind == "open":
            inner, tokens = _commands(tokens)
            if not tokens or tokens[0].kind != "close":
                raise TemplateError("unclosed left paren")
            tokens = tokens[1:]
            node: Any = Pipeline(inner)
            if (
                tokens
                and tokens[0].kind in ("field", "fields_after")
                and tokens[0].text != "."
                and not tokens[0].spaced
            ):
                node = ("chain", node, tokens[0].text)
                tokens = tokens[1:]
            operands.append(node)
        elif token.kind in ("declare", "assign", "comma"):
            raise TemplateError(f"unexpected {token.text!r} in operand")
        else:
            operands.append(token)
    if operands:
        commands.append(Command(operands))
    return commands, tokens


# --- values -----------------------------------------------------------------------------


def go_string(value: Any) -> str:
    """fmt's %v of a JSON-shaped value."""
    if value is MISSING:
        return NO_VALUE
    if value is None:
        return "<nil>"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{go_string(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_string(v) for v in value) + "]"
    return str(value)


def truth(value: Any) -> bool:
    """text/template's isTrue."""
    if value is MISSING or value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str | list | tuple | Mapping):
        return len(value) > 0
    return True


def _basic_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return "other"


def _eq(first: Any, *others: Any) -> bool:
    if not others:
        raise TemplateError("missing argument for comparison")
    for other in others:
        if first is None or other is None:
            if first is None and other is None:
                return True
            continue
        if _basic_kind(first) != _basic_kind(other):
            raise TemplateError("incompatible types for comparison")
        if _basic_kind(first) == "other":
            raise TemplateError("invalid type for comparison")
        if first == other:
            return True
    return False


def _ordered(first: Any, second: Any) -> tuple[Any, Any]:
    if _basic_kind(first) != _basic_kind(second) or _basic_kind(first) in ("bool", "other"):
        raise TemplateError("incompatible types for comparison")
    return first, second


def _index(item: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(item, Mapping):
            if not isinstance(key, str):
                raise TemplateError(f"value has type {type(key).__name__}; should be string")
            # index returns the element type's zero value for a missing key; through `any`
            # it prints as "<no value>" like a missing field.
            item = item.get(key, MISSING)
        elif isinstance(item, list | tuple | str):
            if not isinstance(key, int) or not 0 <= key < len(item):
                raise TemplateError(f"error calling index: index out of range: {key}")
            item = item[key]
        elif item is None or item is MISSING:
            raise TemplateError("error calling index: index of untyped nil")
        else:
            raise TemplateError(f"can't index item of type {type(item).__name__}")
    return item


_VERB = re.compile(r"%[-+# 0]*\d*(?:\.\d+)?([vsdqtx%])")


def _printf(form: str, *args: Any) -> str:
    values = iter(args)

    def one(match: re.Match[str]) -> str:
        verb = match.group(1)
        if verb == "%":
            return "%"
        value = next(values, MISSING)
        if value is MISSING:
            return f"%!{verb}(MISSING)"
        if value is None and verb != "v":
            return f"%!{verb}(<nil>)"
        if verb == "q":
            return json.dumps(go_string(value))
        if verb == "d" and not isinstance(value, int):
            return f"%!d({type(value).__name__}={go_string(value)})"
        return go_string(value)

    return _VERB.sub(one, form)


def _to_json(value: Any) -> str:
    """encoding/json.Marshal as sprig's toJson calls it: map keys sorted, no spaces, <, > and &
    escaped for HTML."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _empty(value: Any) -> bool:
    return not truth(value)


def _strings(value: Any) -> list[str]:
    """sprig's strslice: nil elements dropped, the rest printed with %v."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [go_string(v) for v in value if v is not None]
    return [go_string(value)]


def _first(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, list | tuple):
        raise TemplateError(f"Cannot find first on type {type(value).__name__}")
    return value[0] if value else None


# Go's builtins and the sprig v3.3.0 functions the platform's templates use (sprig's
# functions.go names them; each takes its arguments in sprig's order).
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "eq": _eq,
    "ne": lambda a, b: not _eq(a, b),
    "lt": lambda a, b: (lambda x, y: x < y)(*_ordered(a, b)),
    "le": lambda a, b: (lambda x, y: x <= y)(*_ordered(a, b)),
    "gt": lambda a, b: (lambda x, y: x > y)(*_ordered(a, b)),
    "ge": lambda a, b: (lambda x, y: x >= y)(*_ordered(a, b)),
    "not": lambda a: not truth(a),
    "len": lambda a: len(a),
    "index": _index,
    "print": lambda *a: "".join(go_string(v) for v in a),
    "printf": _printf,
    "urlquery": lambda *a: quote_plus("".join(go_string(v) for v in a), safe="-_.~"),
    "default": lambda fallback, *given: fallback if not given or _empty(given[0]) else given[0],
    "list": lambda *items: list(items),
    "append": lambda items, value: [*(items or []), value],
    "join": lambda sep, items: sep.join(_strings(items)),
    "toJson": _to_json,
    "first": _first,
    "splitList": lambda sep, text: str(text).split(sep),
    "trimPrefix": lambda prefix, text: str(text).removeprefix(prefix),
    "trimSuffix": lambda suffix, text: str(text).removesuffix(suffix),
    "trim": lambda text: str(text).strip(),
    "lower": lambda text: str(text).lower(),
    "upper": lambda text: str(text).upper(),
    "replace": lambda old, new, text: str(text).replace(old, new),
    "hasPrefix": lambda prefix, text: str(text).startswith(prefix),
    "contains": lambda needle, text: needle in str(text),
    "quote": lambda *a: " ".join(json.dumps(go_string(v)) for v in a if v is not None),
}
# and/or are evaluated lazily by the executor (Go 1.18+ short-circuits them).
_LAZY = ("and", "or")


# --- execution --------------------------------------------------------------------------


class _Scope:
    def __init__(self, root: Any) -> None:
        self.frames: list[dict[str, Any]] = [{"$": root}]

    def get(self, name: str) -> Any:
        for frame in reversed(self.frames):
            if name in frame:
                return frame[name]
        raise TemplateError(f'undefined variable "{name}"')

    def set(self, name: str, value: Any) -> None:
        for frame in reversed(self.frames):
            if name in frame:
                frame[name] = value
                return
        raise TemplateError(f'undefined variable "{name}"')

    def declare(self, name: str, value: Any) -> None:
        self.frames[-1][name] = value


def _field(receiver: Any, name: str) -> Any:
    """evalField on JSON-shaped data with missingkey=default."""
    if receiver is MISSING:
        return MISSING
    if receiver is None:
        raise TemplateError(f"nil pointer evaluating interface {{}}.{name}")
    if isinstance(receiver, Mapping):
        return receiver.get(name, MISSING)
    raise TemplateError(f"can't evaluate field {name} in type {_go_type(receiver)}")


def _go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "[]interface {}"
    return type(value).__name__


def _chain(value: Any, fields: str) -> Any:
    for name in fields.strip(".").split("."):
        if name:
            value = _field(value, name)
    return value


class _Executor:
    def __init__(
        self, functions: Mapping[str, Callable[..., Any]], removed: frozenset[str] = frozenset()
    ) -> None:
        self.functions = functions
        self.removed = removed  # taken out of the function map by the caller
        self.out: list[str] = []

    def run(self, nodes: list[Any], dot: Any, scope: _Scope) -> None:
        for node in nodes:
            if isinstance(node, Text):
                self.out.append(node.text)
            elif isinstance(node, Action):
                value = self.pipeline(node.pipeline, dot, scope)
                if not node.pipeline.declare:
                    # evalPipeline digs a nil `any` down to an invalid value: "<no value>".
                    self.out.append(NO_VALUE if value is None else go_string(value))
            else:
                self.branch(node, dot, scope)

    def branch(self, node: Branch, dot: Any, scope: _Scope) -> None:
        scope.frames.append({})
        try:
            if node.keyword == "range":
                self._range(node, dot, scope)
                return
            value = self.pipeline(node.pipeline, dot, scope, declare_in_range=False)
            if truth(value):
                self.run(node.body, value if node.keyword == "with" else dot, scope)
            else:
                self.run(node.otherwise, dot, scope)
        finally:
            scope.frames.pop()

    def _range(self, node: Branch, dot: Any, scope: _Scope) -> None:
        value = self.pipeline(node.pipeline, dot, scope, declare_in_range=True)
        if value is MISSING or value is None:
            items: list[tuple[Any, Any]] = []
        elif isinstance(value, Mapping):
            items = [(k, value[k]) for k in sorted(value)]
        elif isinstance(value, list | tuple):
            items = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            items = [(i, i) for i in range(value)]
        else:
            raise TemplateError(f"range can't iterate over {go_string(value)}")
        if not items:
            self.run(node.otherwise, dot, scope)
            return
        names = node.pipeline.declare
        for key, element in items:
            scope.frames.append({})
            if len(names) == 1:
                scope.declare(names[0], element)
            elif len(names) == 2:
                scope.declare(names[0], key)
                scope.declare(names[1], element)
            self.run(node.body, element, scope)
            scope.frames.pop()

    def pipeline(
        self, pipeline: Pipeline, dot: Any, scope: _Scope, declare_in_range: bool = False
    ) -> Any:
        value: Any = MISSING
        first = True
        for command in pipeline.commands:
            value = self.command(command, dot, scope, _NOPIPE if first else value)
            first = False
        if pipeline.declare and not declare_in_range:
            if pipeline.assign:
                scope.set(pipeline.declare[0], value)
            else:
                scope.declare(pipeline.declare[0], value)
        return value

    def command(self, command: Command, dot: Any, scope: _Scope, piped: Any) -> Any:
        head, args = command.operands[0], command.operands[1:]
        if (
            isinstance(head, Token)
            and head.kind == "ident"
            and head.text
            not in (
                "true",
                "false",
                "nil",
            )
        ):
            return self.call(head.text, args, dot, scope, piped)
        if args or piped is not _NOPIPE:
            raise TemplateError(f"can't give argument to non-function {_describe(head)}")
        return self.operand(head, dot, scope)

    def call(self, name: str, args: list[Any], dot: Any, scope: _Scope, piped: Any) -> Any:
        if name in _LAZY:
            operands = [lambda a=a: self.operand(a, dot, scope) for a in args]
            if piped is not _NOPIPE:
                operands.append(lambda: piped)
            if not operands:
                raise TemplateError(f"wrong number of args for {name}: want at least 1 got 0")
            value: Any = None
            for get in operands:
                value = get()
                if truth(value) == (name == "or"):
                    return value
            return value
        function = self.functions.get(name)
        if function is None:
            if name in _KNOWN_UNMODELLED and name not in self.removed:
                raise NotModelled(f'function "{name}" is not modelled offline')
            raise TemplateError(f'function "{name}" not defined')
        values = [self.operand(a, dot, scope) for a in args]
        if piped is not _NOPIPE:
            values.append(piped)
        values = [None if v is MISSING else v for v in values]
        try:
            return function(*values)
        except TemplateError:
            raise
        except (TypeError, ValueError, AttributeError) as exc:
            raise TemplateError(f"error calling {name}: {exc}") from exc

    def operand(self, node: Any, dot: Any, scope: _Scope) -> Any:
        if isinstance(node, Pipeline):
            return self.pipeline(node, dot, scope)
        if isinstance(node, tuple):
            _, inner, fields = node
            return _chain(self.pipeline(inner, dot, scope), fields)
        token: Token = node
        if token.kind == "field":
            return dot if token.text == "." else _chain(dot, token.text)
        if token.kind == "variable":
            name, _, fields = token.text.partition(".")
            value = scope.get(name)
            return _chain(value, fields) if fields else value
        if token.kind == "string":
            return json.loads(token.text)
        if token.kind == "raw":
            return token.text[1:-1]
        if token.kind == "number":
            return float(token.text) if "." in token.text else int(token.text)
        if token.kind == "ident":
            if token.text in ("true", "false"):
                return token.text == "true"
            if token.text == "nil":
                raise TemplateError("nil is not a command")
            return self.call(token.text, [], dot, scope, _NOPIPE)
        raise TemplateError(f"unexpected {token.text!r}")


def _describe(node: Any) -> str:
    return node.text if isinstance(node, Token) else "pipeline"


# sprig functions that exist but are not modelled here: a template using one is "not
# evaluable offline" rather than wrong.
_KNOWN_UNMODELLED = frozenset(
    {
        "html",
        "js",
        "call",
        "slice",
        "println",
        "b64enc",
        "b64dec",
        "fromJson",
        "toPrettyJson",
        "regexReplaceAll",
        "regexFind",
        "date",
        "now",
        "dict",
        "get",
        "set",
        "keys",
        "values",
        "sha256sum",
        "title",
        "substr",
        "trunc",
        "indent",
        "nindent",
        "repeat",
        "ternary",
        "coalesce",
        "split",
        "splitn",
        "uniq",
        "has",
        "last",
        "rest",
        "initial",
        "sortAlpha",
        "add",
        "sub",
        "mul",
        "div",
        "int",
        "toString",
        "getHostByName",
    }
)


def render(
    source: str,
    data: Any,
    functions: Mapping[str, Callable[..., Any]] = FUNCTIONS,
    without: frozenset[str] = frozenset(),
) -> str:
    """Parse and execute `source` over `data`; TemplateError as Go would fail (`without`: the
    functions the caller removed from its function map, e.g. sprig's env)."""
    nodes = parse(source)
    available = {k: v for k, v in functions.items() if k not in without}
    executor = _Executor(available, without)
    executor.run(nodes, data, _Scope(data))
    return "".join(executor.out)


def functions_used(source: str) -> Iterator[str]:
    """The identifiers a template calls (for reporting what it relies on)."""
    for match in _ACTION.finditer(source):
        for token in _tokens(match.group(2)) if not match.group(2).strip().startswith("/*") else []:
            if token.kind == "ident" and token.text not in ("true", "false", "nil"):
                yield token.text
