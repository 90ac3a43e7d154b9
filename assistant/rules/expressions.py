"""Compiling one ``when`` expression against a kind's schema, and checking what rule-engine lets by.

rule-engine, given a typed context, refuses at compile time unknown symbols and attributes,
ordered comparisons and arithmetic across types, and nullable values used without ``??``. It
accepts, because each can be false at run time, ``==``/``!=`` between values of different types
(``floor == 'three'``), ``in`` with a member of the wrong type, a ``when`` that gives text instead
of true or false, and unknown ``$built-ins``, which fail only when evaluated. Those are checked
here on the compiled tree, as are text literals compared with symbols that take known values
(``category == 'safty'``), so that a rule that could never match does not load.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import rule_engine
from rule_engine import ast
from rule_engine import errors as engine_errors

from assistant.rules.schema import Schema, Shape, Symbol, suggest

Guard = Callable[[Mapping[str, Any]], bool]
"""A quick test a subject must pass for a rule to have a chance to match."""

_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}
_MIRRORED = {"eq": "eq", "ne": "ne", "gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}
_BUILTIN_SCOPE = "built-in"
# Built-ins whose value changes from one call to the next: a decision must follow its subject.
_UNSTEADY_BUILTINS = {"now": "the clock", "today": "the clock", "random": "chance"}
_SHOWN_TOKEN = 20
_LIST_CHOICES_UP_TO = 12


@dataclass(frozen=True)
class Compiled:
    """A compiled ``when``: the rule-engine rule, the quick test a subject must pass for it to
    match (see :func:`_guard`), whether it matches every subject, and the symbols it reads."""

    condition: Any
    guard: Guard | None
    unconditional: bool
    symbols: frozenset[str]


@dataclass(frozen=True)
class ExpressionProblem:
    """Something wrong with a ``when``; ``offset`` is the character of the expression it is at,
    when known."""

    message: str
    suggestion: str | None = None
    offset: int | None = None


def compile_when(
    text: str, schema: Schema, context: Any
) -> tuple[Compiled | None, list[ExpressionProblem]]:
    """Compile ``text`` with the typed ``context`` of ``schema`` and check it; the compiled
    expression if it is sound, otherwise the problems found."""
    try:
        condition = rule_engine.Rule(text, context=context)
    except engine_errors.EngineError as error:
        return None, [_engine_problem(error, text, schema)]
    except RecursionError:
        return None, [ExpressionProblem("the expression is nested too deeply")]
    except ArithmeticError as error:
        # Parts made only of literals are computed at compile time, in Decimal, whose signals
        # (such as inf - inf) rule-engine lets through.
        message = f"the expression cannot be computed ({type(error).__name__})"
        return None, [ExpressionProblem(message)]
    expression = condition.statement.expression
    problems = list(_Checker(text, schema, context).check(expression))
    if problems:
        return None, problems
    unconditional = isinstance(expression, ast.BooleanExpression) and expression.value is True
    return Compiled(condition, _guard(expression, schema), unconditional, _symbols(expression)), []


def _symbols(expression: Any) -> frozenset[str]:
    """The subject's symbols ``expression`` reads (built-ins are not the subject's)."""
    found: set[str] = set()
    pending = [expression]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.SymbolExpression) and node.scope != _BUILTIN_SCOPE:
            found.add(str(node.name))
        pending.extend(_children(node))
    return frozenset(found)


def _find(text: str, part: str) -> int | None:
    """Where ``part`` first appears in ``text``: a name as a whole word, a text in quotes."""
    if part.isidentifier():
        pattern = rf"(?<![\w$]){re.escape(part)}(?!\w)"
    else:
        pattern = rf"(?<=['\"]){re.escape(part)}(?=['\"])"
    found = re.search(pattern, text) or re.search(re.escape(part), text)
    return found.start() if found else None


def _engine_problem(error: Any, text: str, schema: Schema) -> ExpressionProblem:
    """The problem rule-engine found, in words for whoever edits the file."""
    if isinstance(error, engine_errors.RuleSyntaxError):
        token = error.token
        if token is None:
            return ExpressionProblem("syntax error: the expression ends too early", None, len(text))
        # The token may run on to the end of the text: its first word shows where.
        shown = (str(token.value).split() or [""])[0][:_SHOWN_TOKEN]
        return ExpressionProblem(f"syntax error at '{shown}'", None, int(token.lexpos))
    if isinstance(error, engine_errors.SymbolResolutionError):
        name = error.symbol_name
        suggestion = suggest(name, schema.symbols)
        message = f"unknown symbol '{name}'"
        if suggestion is None:
            message += f" ({schema.kind.value} rules may use: {', '.join(schema.symbols)})"
        return ExpressionProblem(message, suggestion, _find(text, name))
    if isinstance(error, engine_errors.AttributeResolutionError):
        name = error.attribute_name
        return ExpressionProblem(f"unknown attribute '{name}'", error.suggestion, _find(text, name))
    if isinstance(error, engine_errors.SyntaxError):
        # Regex, float, date, time span, string and bytes literals that cannot be read.
        value = getattr(error, "value", None)
        offset = _find(text, value) if isinstance(value, str) and value else None
        return ExpressionProblem(f"{error.message}: {value!r}", None, offset)
    if error.message == "data type mismatch":
        return ExpressionProblem(
            "data type mismatch: compare numbers with numbers and text with text"
        )
    return ExpressionProblem(error.message)


def _words(data_type: Any) -> str:
    """A rule-engine type in the words of the schema."""
    if rule_engine.DataType.is_type(data_type, rule_engine.DataType.NULLABLE):
        return f"{_words(data_type.inner_type)} or null"
    if rule_engine.DataType.is_type(data_type, rule_engine.DataType.ARRAY):
        return "a list"
    names = {
        "STRING": "text",
        "FLOAT": "a number",
        "BOOLEAN": "a true/false value",
        "NULL": "null",
        "DATETIME": "a date and time",
        "TIMEDELTA": "a time span",
        "FUNCTION": "a function",
        "MAPPING": "a mapping",
        "SET": "a set",
        "BYTES": "bytes",
    }
    name = str(data_type.name)
    return names.get(name, name.lower())


def _children(node: Any) -> Iterator[Any]:
    """The expressions directly inside ``node``, whatever its class keeps them in."""
    names: list[str] = list(getattr(node, "__dict__", {}))
    for cls in type(node).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        names.extend((slots,) if isinstance(slots, str) else slots)
    for name in names:
        if name != "context":
            yield from _expressions(getattr(node, name, None))


def _expressions(value: Any) -> Iterator[Any]:
    if isinstance(value, ast.ExpressionBase):
        yield value
    elif isinstance(value, (tuple, list, set, frozenset)):
        for item in value:
            yield from _expressions(item)


def _literal_texts(node: Any) -> list[str] | None:
    """The texts of a literal list or set of texts, like ``['repair', 'hygiene']``."""
    if not isinstance(node, (ast.ArrayExpression, ast.SetExpression)):
        return None
    members = list(node.value)
    if not all(isinstance(member, ast.StringExpression) for member in members):
        return None
    return [member.value for member in members]


class _Checker:
    """The checks rule-engine leaves to evaluation time, run once on the compiled tree."""

    def __init__(self, text: str, schema: Schema, context: Any) -> None:
        self.text = text
        self.schema = schema
        self.builtins = list(context.builtins.keys())

    def check(self, expression: Any) -> Iterator[ExpressionProblem]:
        result = expression.result_type
        if result not in (rule_engine.DataType.BOOLEAN, rule_engine.DataType.UNDEFINED):
            yield ExpressionProblem(f"when gives {_words(result)}, not true or false")
        pending = [expression]
        while pending:
            node = pending.pop()
            yield from self._node(node)
            pending.extend(_children(node))

    def _describe(self, node: Any) -> str:
        if isinstance(node, ast.SymbolExpression):
            return f"${node.name}" if node.scope == _BUILTIN_SCOPE else str(node.name)
        if isinstance(node, ast.LiteralExpressionBase) and not isinstance(
            node, (ast.ArrayExpression, ast.SetExpression, ast.MappingExpression)
        ):
            return repr(node.value) if isinstance(node.value, str) else str(node.value).lower()
        return "the other side"

    def _node(self, node: Any) -> Iterator[ExpressionProblem]:
        if isinstance(node, ast.SymbolExpression) and node.scope == _BUILTIN_SCOPE:
            yield from self._builtin(node.name)
        elif isinstance(node, ast.ComparisonExpression) and node.type in ("eq", "ne"):
            yield from self._equality(node)
        elif isinstance(node, ast.ContainsExpression):
            yield from self._containment(node)
        elif isinstance(node, ast.FloatExpression) and node.value.is_nan():
            yield ExpressionProblem(
                "nan is not a number anything equals or is ordered with",
                None,
                _find(self.text, "nan"),
            )

    def _builtin(self, name: str) -> Iterator[ExpressionProblem]:
        offset = _find(self.text, f"${name}")
        if name in _UNSTEADY_BUILTINS:
            yield ExpressionProblem(
                f"'${name}' depends on {_UNSTEADY_BUILTINS[name]}: a rule must decide from its "
                "subject alone (routing subjects have hour, weekday and is_holiday)",
                None,
                offset,
            )
        elif name not in self.builtins:
            yield ExpressionProblem(
                f"unknown built-in '${name}'", suggest(name, self.builtins), offset
            )

    def _equality(self, node: Any) -> Iterator[ExpressionProblem]:
        left, right = node.left, node.right
        left_type, right_type = left.result_type, right.result_type
        undefined = rule_engine.DataType.UNDEFINED
        if (
            left_type != undefined
            and right_type != undefined
            and not rule_engine.DataType.is_compatible(left_type, right_type)
        ):
            yield ExpressionProblem(
                f"{self._describe(left)} is {_words(left_type)} and {self._describe(right)} is "
                f"{_words(right_type)}: they are never equal",
                None,
                self._offset(left, right),
            )
            return
        for symbol_node, literal in ((left, right), (right, left)):
            symbol = _plain_symbol(symbol_node, self.schema)
            if symbol is not None and isinstance(literal, ast.StringExpression):
                yield from self._choice(symbol, literal.value)

    def _containment(self, node: Any) -> Iterator[ExpressionProblem]:
        container, member = node.container, node.member
        container_type = container.result_type
        member_type = rule_engine.DataType.NULLABLE.unwrap(member.result_type)
        undefined = rule_engine.DataType.UNDEFINED
        collection = rule_engine.DataType.is_type(
            container_type, rule_engine.DataType.ARRAY
        ) or rule_engine.DataType.is_type(container_type, rule_engine.DataType.SET)
        if (
            collection
            and container_type.value_type != undefined
            and member_type != undefined
            and not rule_engine.DataType.is_compatible(container_type.value_type, member_type)
        ):
            yield ExpressionProblem(
                f"{self._describe(member)} is {_words(member_type)} but "
                f"{self._describe(container)} holds {_words(container_type.value_type)}: "
                "it is never in it",
                None,
                self._offset(member, container),
            )
            return
        symbol = _plain_symbol(member, self.schema)
        texts = _literal_texts(container)
        if symbol is not None and symbol.shape is Shape.TEXT and texts is not None:
            for value in texts:
                yield from self._choice(symbol, value)
        symbol = _plain_symbol(container, self.schema)
        if symbol is not None and isinstance(member, ast.StringExpression):
            yield from self._choice(symbol, member.value)

    def _choice(self, symbol: Symbol, value: str) -> Iterator[ExpressionProblem]:
        choices = symbol.choices
        if choices is None or value in choices:
            return
        message = f"unknown {symbol.name} value '{value}'"
        suggestion = suggest(value, choices)
        if suggestion is None and len(choices) <= _LIST_CHOICES_UP_TO:
            message += f" (expected one of: {', '.join(choices)})"
        yield ExpressionProblem(message, suggestion, _find(self.text, value))

    def _offset(self, *nodes: Any) -> int | None:
        for node in nodes:
            if isinstance(node, ast.SymbolExpression):
                return _find(self.text, node.name)
        return None


def _guard(expression: Any, schema: Schema) -> Guard | None:
    """The leading simple terms of the ``and`` chain as one plain Python test.

    A simple term has one of the usual shapes: ``category == 'safety'``, ``category in
    ['repair', 'hygiene']``, ``'counsellor' in roles``, ``hour >= 22``, ``is_holiday``, ``not
    anonymous``. rule-engine's ``and`` evaluates its terms left to right and stops at the first
    false one; simple terms cannot fail, so a subject that fails the test would have failed the
    whole expression too, with nothing after that term evaluated. The tests give rule-engine's
    answers because subject values are plain (see :meth:`Schema.subject`): texts are ``str``,
    lists tuples of ``str``, numbers ``int`` (exactly comparable with the ``Decimal`` literals),
    flags ``bool``.
    """
    tests: list[Guard] = []
    for term in _and_terms(expression):
        test = _term_guard(term, schema)
        if test is None:
            break
        tests.append(test)
    if not tests:
        return None
    if len(tests) == 1:
        return tests[0]
    every = tuple(tests)

    def guard(values: Mapping[str, Any]) -> bool:
        # A plain loop: all() over a generator costs three times as much, on every rule tried.
        for test in every:  # noqa: SIM110
            if not test(values):
                return False
        return True

    return guard


def _and_terms(node: Any) -> Iterator[Any]:
    """The terms of an ``and`` chain in the order rule-engine evaluates them."""
    if isinstance(node, ast.LogicExpression) and node.type == "and":
        yield from _and_terms(node.left)
        yield from _and_terms(node.right)
    else:
        yield node


def _term_guard(node: Any, schema: Schema) -> Guard | None:
    if isinstance(node, ast.UnaryExpression) and node.type == "not":
        symbol = _plain_symbol(node.right, schema)
        if symbol is not None and symbol.shape is Shape.FLAG and not symbol.nullable:
            name = symbol.name
            return lambda values: values[name] is False
        return None
    symbol = _plain_symbol(node, schema)
    if symbol is not None:
        if symbol.shape is Shape.FLAG and not symbol.nullable:
            name = symbol.name
            return lambda values: values[name] is True
        return None
    if isinstance(node, ast.ContainsExpression):
        return _containment_guard(node, schema)
    if isinstance(node, ast.ComparisonExpression) and node.type in _COMPARISONS:
        return _comparison_guard(node, schema)
    return None


def _plain_symbol(node: Any, schema: Schema) -> Symbol | None:
    """The schema symbol ``node`` names, unless it is a built-in or a comprehension variable."""
    if isinstance(node, ast.SymbolExpression) and node.scope is None:
        return schema.symbols.get(node.name)
    return None


def _containment_guard(node: Any, schema: Schema) -> Guard | None:
    member = _plain_symbol(node.member, schema)
    texts = _literal_texts(node.container)
    if member is not None and member.shape is Shape.TEXT and texts is not None:
        name, choices = member.name, frozenset(texts)
        return lambda values: values[name] in choices
    container = _plain_symbol(node.container, schema)
    if (
        container is not None
        and container.shape is Shape.TEXTS
        and not container.nullable
        and isinstance(node.member, ast.StringExpression)
    ):
        name, text = container.name, node.member.value
        return lambda values: text in values[name]
    return None


def _comparison_guard(node: Any, schema: Schema) -> Guard | None:
    operation = node.type
    symbol, literal = _plain_symbol(node.left, schema), node.right
    if symbol is None:
        # 'safety' == category reads as category == 'safety'; 3 < floor as floor > 3.
        operation = _MIRRORED[operation]
        symbol, literal = _plain_symbol(node.right, schema), node.left
    if symbol is None:
        return None
    name, compare = symbol.name, _COMPARISONS[operation]
    if symbol.shape is Shape.TEXT and operation in ("eq", "ne"):
        if isinstance(literal, ast.StringExpression):
            text = literal.value
            return lambda values: compare(values[name], text)
        return None
    # Ordered comparisons of a nullable symbol do not compile; equality with null is left to
    # rule-engine.
    if symbol.shape is Shape.NUMBER and isinstance(literal, ast.FloatExpression):
        if symbol.nullable and operation not in ("eq", "ne"):
            return None
        number = literal.value
        return lambda values: compare(values[name], number)
    return None
