"""``--by``: the score to rank by, an arithmetic expression over ``scores.*`` metrics.

``complexity * (1 - toxicity)``, ``scores.complexity + 0.1 * log1p(format.tokens)``:
numbers, metric names (dotted, with or without ``scores.``), ``+ - * / **``,
unary minus and a few functions (:data:`FUNCTIONS`).  The text is parsed with
:mod:`ast` and every node is checked against that whitelist, then evaluated
over NumPy columns, never with ``eval``: dataset options are data.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from instructkit.errors import InstructkitError

FUNCTIONS: dict[str, Callable[..., np.ndarray]] = {
    "log": np.log,
    "log1p": np.log1p,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "min": np.minimum,
    "max": np.maximum,
}
OPERATORS: dict[type, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.divide,
    ast.Pow: np.power,
}

#: Which ``instructkit score --metrics`` value writes a metric, by its first name part.
PRODUCERS = {
    "complexity": "complexity",
    "perplexity": "perplexity",
    "ifd": "perplexity",
    "factual": "factual",
    "toxicity": "safety",
    "format": "format",
}


def producer_hint(metric: str) -> str:
    """The command that adds ``metric``, for error messages."""
    head = metric.split(".", 1)[0]
    if head in PRODUCERS:
        return f"instructkit score --metrics {PRODUCERS[head]}"
    return "the step that writes it (instructkit score --metrics ...)"


@dataclass(frozen=True)
class Expression:
    """A checked ``--by`` expression: its text, parsed tree and the metrics it reads."""

    text: str
    tree: ast.expr
    metrics: tuple[str, ...]

    def evaluate(self, columns: Mapping[str, np.ndarray], rows: int) -> np.ndarray:
        """The expression per row (float64); NaN where a metric is absent or the arithmetic fails."""
        with np.errstate(all="ignore"):
            value = _eval(self.tree, columns, rows)
        out = np.broadcast_to(np.asarray(value, dtype=np.float64), (rows,)).copy()
        out[~np.isfinite(out)] = np.nan
        return out


def parse(text: str) -> Expression:
    """Check ``text`` against the whitelist; an :class:`InstructkitError` names what is not allowed."""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as e:
        raise InstructkitError(f"option 'by': cannot parse {text!r}: {e.msg}") from None
    metrics: list[str] = []
    _check(tree, metrics, text)
    return Expression(text.strip(), tree, tuple(dict.fromkeys(metrics)))


def metric_name(node: ast.expr) -> str | None:
    """``scores.format.tokens`` / ``format.tokens`` -> ``format.tokens``; None if not a dotted name."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    parts.reverse()
    if parts[0] == "scores" and len(parts) > 1:
        parts = parts[1:]
    return ".".join(parts)


def _check(node: ast.expr, metrics: list[str], text: str) -> None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        if isinstance(node.value, bool):
            raise InstructkitError(f"option 'by': {text!r}: booleans are not scores")
        return
    if isinstance(node, ast.Name | ast.Attribute):
        name = metric_name(node)
        if name is None:
            raise InstructkitError(f"option 'by': {text!r}: only dotted metric names may be used")
        metrics.append(name)
        return
    if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
        _check(node.left, metrics, text)
        _check(node.right, metrics, text)
        return
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        _check(node.operand, metrics, text)
        return
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in FUNCTIONS
        and not node.keywords
        and len(node.args) == (2 if node.func.id in ("min", "max") else 1)
    ):
        for arg in node.args:
            _check(arg, metrics, text)
        return
    shown = ast.get_source_segment(text.strip(), node) or type(node).__name__
    raise InstructkitError(
        f"option 'by': {text!r}: '{shown}' is not allowed; use numbers, metric names, "
        f"+ - * / **, and {', '.join(FUNCTIONS)}(...)"
    )


def _eval(node: ast.expr, columns: Mapping[str, np.ndarray], rows: int) -> np.ndarray | float:
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name | ast.Attribute):
        name = metric_name(node)
        assert name is not None  # checked by parse
        return columns.get(name, np.full(rows, np.nan))
    if isinstance(node, ast.BinOp):
        return OPERATORS[type(node.op)](
            _eval(node.left, columns, rows), _eval(node.right, columns, rows)
        )
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, columns, rows)
        return -value if isinstance(node.op, ast.USub) else value
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    return FUNCTIONS[node.func.id](*(_eval(a, columns, rows) for a in node.args))
