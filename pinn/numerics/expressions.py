"""Safe math expressions from config text, e.g. `problem.potential="V0 * tanh(x)**2 - 3"`.

The text is parsed with `ast.parse` (parsing never runs code) and the tree is checked against a
whitelist: numbers, the variable `x`, named constants, + - * / ** and unary minus, and calls of
a fixed set of math functions by name. Attribute access, subscripts, comparisons, keywords,
lambdas, comprehensions and every other construct are refused with a one-line ConfigError. The
checked tree is evaluated by a small interpreter on numpy arrays or torch tensors alike; Python's
`eval` is never used.
"""

from __future__ import annotations

import ast
import math
from typing import Any, Mapping

import numpy as np
import torch

from pinn.errors import ConfigError

MAX_LENGTH = 20000
FUNCTIONS = ("sin", "cos", "tan", "exp", "log", "sqrt", "abs", "tanh", "sinh", "cosh", "arctan")
BUILTIN_CONSTANTS = {"pi": math.pi, "e": math.e}
_BINARY = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a ** b}


def _function(name: str, value):
    if isinstance(value, torch.Tensor):
        return getattr(torch, "atan" if name == "arctan" else name)(value)
    return getattr(np, name)(np.asarray(value, dtype=float))


class Expression:
    """A checked expression in `x`; call it with a numpy array or a torch tensor."""

    def __init__(self, text: Any, constants: Mapping[str, Any] | None = None, key: str = "problem.potential"):
        self.key = key
        if isinstance(text, (int, float)) and not isinstance(text, bool):
            text = repr(float(text))  # a constant potential
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(f"{key}={text!r} must be a math expression in x, e.g. \"x**2\"")
        if len(text) > MAX_LENGTH:
            raise ConfigError(f"{key} is longer than {MAX_LENGTH} characters")
        self.text = text
        self.constants = dict(BUILTIN_CONSTANTS)
        for name, value in (constants or {}).items():
            if not str(name).isidentifier() or name == "x" or name in FUNCTIONS:
                raise ConfigError(f"problem.constants.{name} is not a usable constant name")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ConfigError(f"problem.constants.{name}={value!r} must be a finite number")
            self.constants[str(name)] = float(value)
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as exc:
            raise ConfigError(f"{key}={shown(text)} is not a valid expression ({exc.msg} at column {exc.offset})") from None
        self.tree = tree.body
        self._check(self.tree, depth=0)

    def _refuse(self, node: ast.AST, what: str) -> None:
        allowed = f"numbers, x, {', '.join(sorted(set(self.constants) - {'x'}))}, + - * / **, and {', '.join(FUNCTIONS)}"
        raise ConfigError(f"{self.key}={shown(self.text)}: {what} is not allowed; use {allowed}")

    def _check(self, node: ast.AST, depth: int) -> None:
        """Nesting is limited (to 100), but a chain of binary operators is not: `x + x + ... + x`
        parses as a tree leaning left as deep as the chain is long, and is walked along that spine."""
        if depth > 100:
            self._refuse(node, "nesting deeper than 100")
        node, steps = _spine(node)
        for op, right in steps:
            if type(op) not in _BINARY:
                self._refuse(right, f"the operator {type(op).__name__}")
            self._check(right, depth + 1)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                self._refuse(node, f"the literal {node.value!r}")
        elif isinstance(node, ast.Name):
            if node.id != "x" and node.id not in self.constants:
                self._refuse(node, f"the name {node.id!r}")
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd)):
                self._refuse(node, f"the operator {type(node.op).__name__}")
            self._check(node.operand, depth + 1)
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                self._refuse(node, "calling " + (node.func.id if isinstance(node.func, ast.Name) else "that"))
            if len(node.args) != 1 or node.keywords:
                self._refuse(node, f"{node.func.id} with other than one argument")
            self._check(node.args[0], depth + 1)
        else:
            self._refuse(node, type(node).__name__)

    def __call__(self, x):
        value = self._eval(self.tree, x)
        if isinstance(x, torch.Tensor):
            return value if isinstance(value, torch.Tensor) else torch.full_like(x, float(value))
        return np.broadcast_to(np.asarray(value, dtype=float), np.shape(x)).copy()

    def _eval(self, node: ast.AST, x):
        node, steps = _spine(node)
        if isinstance(node, ast.Constant):
            value = float(node.value)
        elif isinstance(node, ast.Name):
            value = x if node.id == "x" else self.constants[node.id]
        elif isinstance(node, ast.UnaryOp):
            value = self._eval(node.operand, x)
            value = -value if isinstance(node.op, ast.USub) else value
        else:
            assert isinstance(node, ast.Call)
            value = _function(node.func.id, self._eval(node.args[0], x))
        for op, right in steps:
            value = _BINARY[type(op)](value, self._eval(right, x))
        return value


def shown(text: Any, limit: int = 60) -> str:
    """The expression as quoted in a message, its middle cut out when long."""
    if not isinstance(text, str):
        return repr(text)
    return repr(text) if len(text) <= limit else repr(f"{text[:limit // 2]} ... {text[-limit // 2:]}")


def _spine(node: ast.AST) -> tuple[ast.AST, list[tuple[ast.operator, ast.AST]]]:
    """The leftmost operand of a chain of binary operators and the (operator, right operand) steps
    that follow it, in the order they apply."""
    steps = []
    while isinstance(node, ast.BinOp):
        steps.append((node.op, node.right))
        node = node.left
    return node, steps[::-1]
