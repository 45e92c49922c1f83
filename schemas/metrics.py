"""Prometheus helpers both processes use (they meet in ``schemas``, never import each other).

prometheus_client's ``labels()`` checks, converts and looks its arguments up under a lock on
every call (~2.5 us a call, the largest part of the metrics' cost in a profile of the ingress
under load, and visible in the worker's per-record path); :class:`Labelled` keeps the child of
each label combination already seen in a plain dict, so a delivery or a record pays one lookup.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from prometheus_client import Counter, Histogram

M = TypeVar("M", Counter, Histogram)


class Labelled(Generic[M]):
    """A labelled metric whose children are looked up once per label combination."""

    def __init__(self, metric: M) -> None:
        self.metric: M = metric
        self._children: dict[tuple[str, ...], M] = {}

    def labels(self, *values: str) -> M:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self.metric.labels(*values)
        return child
