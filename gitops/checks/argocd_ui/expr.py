"""A model of expr-lang/expr v1.17.8 (the version argo-cd v3.5.1's go.mod pins), the subset the
platform's deep-link conditions and notification triggers use.

Argo CD evaluates a deep link's `if` with expr.Eval over the link's data (server/deeplinks/
deeplinks.go) and a trigger's `when`/`oncePer` with expr.Compile without an environment, then
expr.Run over the notification variables (notifications-engine pkg/triggers/service.go), so
every name is `any` and every member access is a run-time Fetch. From expr v1.17.8:

- precedence (parser/operator/operator.go): `??` 500, unary not/! 50, * / % 60, + - 30,
  comparisons and `in` 20, and/&& 15, or/|| 10;
- Fetch (vm/runtime/runtime.go): a missing map key is nil, a member of nil is the error
  "cannot fetch <name> from <nil>", an index out of range an error; `?.` yields nil for a nil
  receiver and skips the rest of the chain;
- `in` over nil is false, over a list compares with Equal, over a map looks the key up;
- and/or need booleans (anything else is a run-time error), and stop early;
- `==` of nil and nil is true, numbers compare across int/float, other kinds by value.

Supported besides: string, number, bool, nil and array literals, `not in`, `??`, calls of
functions and of methods of the values the notification helpers return (`time.Now()`,
`time.Parse(...)`, `.Sub(...)`, `.Minutes()`, ...: util/notification/expression/time/time.go).
Anything else raises NotModelled.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any


class ExprError(Exception):
    """A compile or run-time error expr would report (the text is this model's)."""


class NotModelled(ExprError):
    """Syntax or a builtin this model does not implement."""


_TOKEN = re.compile(
    r"""\s*(?:
    (?P<number>\d+(?:\.\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>\?\?|\?\.|==|!=|<=|>=|&&|\|\||[-+*/%<>!.,()\[\]])
  | (?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
    )""",
    re.X,
)
_WORD_OPERATORS = {"and", "or", "not", "in", "nil", "true", "false"}
_UNMODELLED_WORDS = {"matches", "contains", "startsWith", "endsWith", "let", "if", "else"}
_BINARY = {
    "??": 500,
    "*": 60,
    "/": 60,
    "%": 60,
    "+": 30,
    "-": 30,
    "==": 20,
    "!=": 20,
    "<": 20,
    ">": 20,
    "<=": 20,
    ">=": 20,
    "in": 20,
    "not in": 20,
    "and": 15,
    "&&": 15,
    "or": 10,
    "||": 10,
}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str


def _tokens(source: str) -> list[Token]:
    out = []
    position = 0
    while source[position:].strip():
        match = _TOKEN.match(source, position)
        if not match:
            raise ExprError(f"unexpected token {source[position:].strip()[:10]!r}")
        kind = match.lastgroup or ""
        text = match.group(kind)
        if kind == "name" and text in _UNMODELLED_WORDS:
            raise NotModelled(f"operator or keyword {text!r} is not modelled")
        out.append(Token(kind, text))
        position = match.end()
    return out


# --- parse: nodes are tuples ------------------------------------------------------------


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.position = 0

    def peek(self, offset: int = 0) -> Token | None:
        index = self.position + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def take(self, text: str | None = None) -> Token:
        token = self.peek()
        if token is None or (text is not None and token.text != text):
            raise ExprError(f"expected {text or 'more'}, got {token.text if token else 'end'}")
        self.position += 1
        return token

    def binary_operator(self) -> str | None:
        token = self.peek()
        if token is None:
            return None
        if token.text == "not" and (after := self.peek(1)) is not None and after.text == "in":
            return "not in"
        return token.text if token.text in _BINARY else None

    def expression(self, min_precedence: int = 0) -> Any:
        left = self.unary()
        while (operator := self.binary_operator()) is not None:
            precedence = _BINARY[operator]
            if precedence < min_precedence:
                break
            self.position += 2 if operator == "not in" else 1
            right = self.expression(precedence + 1)
            left = ("binary", operator, left, right)
        return left

    def unary(self) -> Any:
        token = self.peek()
        if token is not None and token.text in ("not", "!"):
            self.position += 1
            return ("not", self.expression(50))
        if token is not None and token.text == "-":
            self.position += 1
            return ("negate", self.expression(90))
        return self.postfix(self.primary())

    def primary(self) -> Any:
        token = self.take()
        if token.kind == "number":
            return ("literal", float(token.text) if "." in token.text else int(token.text))
        if token.kind == "string":
            return ("literal", _unquote(token.text))
        if token.text == "(":
            inner = self.expression()
            self.take(")")
            return inner
        if token.text == "[":
            items = []
            while (next_token := self.peek()) is not None and next_token.text != "]":
                items.append(self.expression())
                if (comma := self.peek()) is not None and comma.text == ",":
                    self.position += 1
            self.take("]")
            return ("array", items)
        if token.kind == "name":
            if token.text in ("true", "false"):
                return ("literal", token.text == "true")
            if token.text == "nil":
                return ("literal", None)
            if token.text in _WORD_OPERATORS:
                raise ExprError(f"unexpected {token.text!r}")
            return ("name", token.text)
        raise ExprError(f"unexpected token {token.text!r}")

    def postfix(self, node: Any) -> Any:
        while (token := self.peek()) is not None:
            if token.text in (".", "?."):
                self.position += 1
                optional = token.text == "?."
                after = self.peek()
                if optional and after is not None and after.text == "[":
                    self.position += 1
                    key = self.expression()
                    self.take("]")
                    node = ("member", node, key, True)
                    continue
                name = self.take()
                if name.kind != "name":
                    raise ExprError(f"expected a name after {token.text}")
                node = ("member", node, ("literal", name.text), optional)
            elif token.text == "[":
                self.position += 1
                key = self.expression()
                self.take("]")
                node = ("member", node, key, False)
            elif token.text == "(":
                self.position += 1
                args = []
                while (next_token := self.peek()) is not None and next_token.text != ")":
                    args.append(self.expression())
                    if (comma := self.peek()) is not None and comma.text == ",":
                        self.position += 1
                self.take(")")
                node = ("call", node, args)
            else:
                break
        return node


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(
        r"\\(.)",
        lambda m: {"n": "\n", "t": "\t", "\\": "\\", "'": "'", '"': '"'}.get(
            m.group(1), m.group(0)
        ),
        body,
    )


def compile_expression(source: str) -> Any:
    """The parsed expression, or ExprError as expr.Compile would fail."""
    parser = _Parser(_tokens(source))
    if not parser.tokens:
        raise ExprError("unexpected end of expression")
    node = parser.expression()
    if parser.peek() is not None:
        raise ExprError(f"unexpected token {parser.peek().text!r}")  # type: ignore[union-attr]
    return node


# --- values the notification helpers return ---------------------------------------------


@dataclass(frozen=True)
class GoDuration:
    value: timedelta

    def Minutes(self) -> float:  # Go's method names
        return self.value.total_seconds() / 60

    def Hours(self) -> float:
        return self.value.total_seconds() / 3600

    def Seconds(self) -> float:
        return self.value.total_seconds()


@dataclass(frozen=True)
class GoTime:
    value: datetime

    def Sub(self, other: GoTime) -> GoDuration:
        return GoDuration(self.value - other.value)

    def After(self, other: GoTime) -> bool:
        return self.value > other.value

    def Before(self, other: GoTime) -> bool:
        return self.value < other.value


_METHODS = {GoTime: ("Sub", "After", "Before"), GoDuration: ("Minutes", "Hours", "Seconds")}


def parse_rfc3339(text: Any) -> GoTime:
    """time.Parse(time.RFC3339, ...), which panics on anything else (time.go `parse`)."""
    if not isinstance(text, str):
        raise ExprError(f"time.Parse: cannot use {text!r} as string")
    try:
        return GoTime(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError as exc:
        raise ExprError(f'parsing time "{text}" as RFC3339: {exc}') from exc


def time_helpers(now: datetime) -> dict[str, Any]:
    """The `time` namespace of the notification expressions, at a given instant."""
    return {
        "Now": lambda: GoTime(now),
        "Parse": parse_rfc3339,
        "Minute": GoDuration(timedelta(minutes=1)),
        "Hour": GoDuration(timedelta(hours=1)),
        "Second": GoDuration(timedelta(seconds=1)),
        "RFC3339": "2006-01-02T15:04:05Z07:00",
    }


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# --- evaluation ------------------------------------------------------------------------

# expr's builtin functions (builtin/builtin.go at v1.17.8), none of which is modelled.
BUILTINS = frozenset(
    {
        "all",
        "any",
        "none",
        "one",
        "filter",
        "map",
        "find",
        "findIndex",
        "findLast",
        "findLastIndex",
        "count",
        "sum",
        "groupBy",
        "sortBy",
        "reduce",
        "len",
        "type",
        "abs",
        "ceil",
        "floor",
        "round",
        "int",
        "float",
        "string",
        "trim",
        "trimPrefix",
        "trimSuffix",
        "upper",
        "lower",
        "split",
        "splitAfter",
        "replace",
        "repeat",
        "join",
        "indexOf",
        "lastIndexOf",
        "hasPrefix",
        "hasSuffix",
        "max",
        "min",
        "mean",
        "median",
        "toJSON",
        "fromJSON",
        "toBase64",
        "fromBase64",
        "now",
        "duration",
        "date",
        "timezone",
        "first",
        "last",
        "get",
        "take",
        "keys",
        "values",
        "toPairs",
        "fromPairs",
        "sort",
        "reverse",
        "uniq",
        "concat",
        "flatten",
        "bitand",
        "bitor",
        "bitxor",
        "bitnand",
        "bitnot",
        "bitshl",
        "bitshr",
        "bitushr",
    }
)
_OPTIONAL_NIL = object()  # `?.` met nil: the rest of the chain is skipped


def evaluate(node: Any, env: Mapping[str, Any]) -> Any:
    value = _eval(node, env)
    return None if value is _OPTIONAL_NIL else value


def _eval(node: Any, env: Mapping[str, Any]) -> Any:
    kind = node[0]
    if kind == "literal":
        return node[1]
    if kind == "array":
        return [evaluate(item, env) for item in node[1]]
    if kind == "name":
        if node[1] in BUILTINS and node[1] not in env:
            raise NotModelled(f"builtin {node[1]}() is not modelled")
        # expr.Compile without an environment: an unknown name is nil at run time.
        return env.get(node[1])
    if kind == "member":
        _, target, key_node, optional = node
        receiver = _eval(target, env)
        if receiver is _OPTIONAL_NIL:
            return _OPTIONAL_NIL
        if receiver is None and optional:
            return _OPTIONAL_NIL
        return _fetch(receiver, evaluate(key_node, env))
    if kind == "call":
        _, target, arg_nodes = node
        function = _eval(target, env)
        if function is _OPTIONAL_NIL:
            return _OPTIONAL_NIL
        if not callable(function):
            raise ExprError(f"{_describe(target)} is not callable")
        return function(*[evaluate(a, env) for a in arg_nodes])
    if kind == "not":
        return not _boolean(evaluate(node[1], env), "not")
    if kind == "negate":
        value = evaluate(node[1], env)
        if not _is_number(value):
            raise ExprError(f"invalid operation: - {value!r}")
        return -value
    if kind == "binary":
        return _binary(node[1], node[2], node[3], env)
    raise NotModelled(f"expression node {kind}")


def _describe(node: Any) -> str:
    if node[0] == "name":
        return str(node[1])
    if node[0] == "member":
        return f"{_describe(node[1])}.{node[2][1] if node[2][0] == 'literal' else '[...]'}"
    return "value"


def _fetch(receiver: Any, key: Any) -> Any:
    if receiver is None:
        raise ExprError(f"cannot fetch {key} from <nil>")
    methods = _METHODS.get(type(receiver))
    if methods is not None:
        if key in methods:
            return getattr(receiver, key)
        raise ExprError(f"cannot fetch {key} from {type(receiver).__name__}")
    if isinstance(receiver, Mapping):
        return receiver.get(key)
    if isinstance(receiver, list | str):
        if not isinstance(key, int) or isinstance(key, bool):
            raise ExprError(f"cannot fetch {key} from {type(receiver).__name__}")
        index = key + len(receiver) if key < 0 else key
        if not 0 <= index < len(receiver):
            raise ExprError(f"index out of range: {index} (array length is {len(receiver)})")
        return receiver[index]
    raise ExprError(f"cannot fetch {key} from {type(receiver).__name__}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _boolean(value: Any, operator: str) -> bool:
    if not isinstance(value, bool):
        raise ExprError(f"invalid operation: {operator} on {value!r} (not a bool)")
    return value


def equal(left: Any, right: Any) -> bool:
    """runtime.Equal: numbers across kinds, everything else by kind and value."""
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    if type(left) is not type(right):
        return False
    return bool(left == right)


def _binary(operator: str, left_node: Any, right_node: Any, env: Mapping[str, Any]) -> Any:
    if operator in ("and", "&&"):
        return _boolean(evaluate(left_node, env), operator) and _boolean(
            evaluate(right_node, env), operator
        )
    if operator in ("or", "||"):
        return _boolean(evaluate(left_node, env), operator) or _boolean(
            evaluate(right_node, env), operator
        )
    left = evaluate(left_node, env)
    if operator == "??":
        return left if left is not None else evaluate(right_node, env)
    right = evaluate(right_node, env)
    if operator == "==":
        return equal(left, right)
    if operator == "!=":
        return not equal(left, right)
    if operator in ("in", "not in"):
        found = _in(left, right)
        return found if operator == "in" else not found
    comparisons: dict[str, Callable[[Any, Any], bool]] = {
        "<": lambda a, b: a < b,
        ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b,
        ">=": lambda a, b: a >= b,
    }
    if operator in comparisons:
        both_numbers = _is_number(left) and _is_number(right)
        both_strings = isinstance(left, str) and isinstance(right, str)
        if not (both_numbers or both_strings):
            raise ExprError(f"invalid operation: {left!r} {operator} {right!r}")
        return comparisons[operator](left, right)
    if operator == "+" and isinstance(left, str) and isinstance(right, str):
        return left + right
    if _is_number(left) and _is_number(right):
        arithmetic: dict[str, Callable[[Any, Any], Any]] = {
            "+": lambda a, b: a + b,
            "-": lambda a, b: a - b,
            "*": lambda a, b: a * b,
            "/": lambda a, b: a / b,
            "%": lambda a, b: a % b,
        }
        return arithmetic[operator](left, right)
    raise ExprError(f"invalid operation: {left!r} {operator} {right!r}")


def _in(needle: Any, haystack: Any) -> bool:
    if haystack is None:
        return False
    if isinstance(haystack, list):
        return any(equal(item, needle) for item in haystack)
    if isinstance(haystack, Mapping):
        return needle in haystack
    raise ExprError(f"operator in not defined on {type(haystack).__name__}")


def run(source: str, env: Mapping[str, Any]) -> Any:
    """Compile and run `source` over `env`."""
    return evaluate(compile_expression(source), env)
