"""A loss closure that remembers where it was evaluated.

torch's L-BFGS, stepped once per trainer step (max_iter=1), begins every step by evaluating the
loss and its gradient at the parameters the previous step's line search ended on: a point that
search has already evaluated (it restores the parameters after each trial and then adds the same
t d to them, so they are bitwise those of the trial). `Recalling` keeps the last few evaluations
and hands one back, gradients included, when the parameters are bitwise the same: the step runs
on exactly the numbers it would have recomputed, at one evaluation less.
"""

from __future__ import annotations

import collections
from typing import Any, Callable, Sequence

import torch


class Recalling:
    """`closure()` (which evaluates the loss and back-propagates it into the `params`' gradients),
    remembering its last `keep` evaluations; `snapshot()` captures what else an evaluation
    leaves behind (the loss terms the trainer logs) and `restore(snapshot)` puts it back."""

    def __init__(self, closure: Callable[[], torch.Tensor], params: Sequence[torch.Tensor],
                 snapshot: Callable[[], Any], restore: Callable[[Any], None], keep: int = 4):
        self.closure, self.params = closure, list(params)
        self.snapshot, self.restore = snapshot, restore
        self.memory: collections.deque = collections.deque(maxlen=keep)
        self.recalled = 0

    def __call__(self) -> torch.Tensor:
        at = torch.cat([p.detach().reshape(-1) for p in self.params])
        for where, loss, grads, extra in self.memory:
            if torch.equal(where, at):
                for p, g in zip(self.params, grads):
                    p.grad = None if g is None else g.clone()
                self.restore(extra)
                self.recalled += 1
                return loss.clone()
        loss = self.closure()
        grads = [None if p.grad is None else p.grad.detach().clone() for p in self.params]
        self.memory.append((at, loss.detach().clone(), grads, self.snapshot()))
        return loss
