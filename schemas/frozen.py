"""``@frozen``: a dataclass the type checker holds immutable, without a frozen dataclass's cost.

A frozen dataclass assigns each field in ``__init__`` through ``object.__setattr__``, so that its
own ``__setattr__`` can refuse every later assignment; in CPython 3.11 that costs ~0.2 us a
field, several times a plain slot assignment. The worker builds about forty fields of such values
per raw record (the record, the delivery, its trace context, the event, the de-duplication
entry, the result), and under callgrind the frozen ones were a quarter of the stage's
instructions (``bench/stage.py``). A class decorated ``@frozen`` is a slots dataclass with
the equality and hash of a frozen one, and mypy reports any assignment to its fields as it does
for a frozen dataclass (``dataclass_transform(frozen_default=True)``); only the check at run time
is gone. Use it for values built per record on the worker's path; elsewhere
``@dataclass(frozen=True, slots=True)`` is as good and says the same.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar, dataclass_transform

T = TypeVar("T")


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
def frozen(cls: type[T]) -> type[T]:
    # unsafe_hash: the hash a frozen dataclass has (of its fields); "unsafe" only because
    # the runtime no longer stops an assignment, which the type checker does.
    return dataclasses.dataclass(slots=True, unsafe_hash=True)(cls)
