"""What the ingress holds at once, across requests: body bytes and unacknowledged produces.

One :class:`InFlight` per process (the event loop is its only user, so plain counters do). A
request reserves its body bytes as they are declared or arrive and gives them back when it ends;
one that would pass the cap is refused with 503 and ``Retry-After`` before more is read. So
is a delivery that arrives while ``max_produces`` wait for the broker's acknowledgement: a slow
broker then costs senders a retry, not the process its memory.
"""

from __future__ import annotations

from types import TracebackType

from ingress.errors import Overloaded


class InFlight:
    def __init__(self, *, max_body_bytes: int, max_produces: int) -> None:
        self.max_body_bytes = max_body_bytes
        self.max_produces = max_produces
        #: Body bytes reserved by requests in progress.
        self.body_bytes = 0
        #: Produces awaiting the broker's acknowledgement.
        self.produces = 0

    def admit(self) -> None:
        """Refuse a new delivery while the produce limit is reached (before its body is read)."""
        if self.produces >= self.max_produces:
            raise Overloaded(f"{self.produces} deliveries are waiting for Kafka; retry later")

    # Context managers as classes, not @contextmanager generators: a generator, its wrapper and
    # two resumptions per block were ~1.5 % of a delivery in a profile under load.

    def holding(self) -> Held:
        """A request's share of the body bytes, given back when the ``with`` block ends."""
        return Held(self)

    def producing(self) -> Producing:
        """Counts one produce awaiting its acknowledgement for the ``with`` block."""
        return Producing(self)


class Producing:
    __slots__ = ("_owner",)

    def __init__(self, owner: InFlight) -> None:
        self._owner = owner

    def __enter__(self) -> None:
        self._owner.produces += 1

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._owner.produces -= 1


class Held:
    """The body bytes one request holds; given back when its ``with`` block ends."""

    __slots__ = ("_owner", "size")

    def __init__(self, owner: InFlight) -> None:
        self._owner = owner
        self.size = 0

    def __enter__(self) -> Held:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def release(self) -> None:
        """Give the bytes back (a request answered without a ``with`` block); once is enough."""
        self._owner.body_bytes -= self.size
        self.size = 0

    def reserve(self, total: int) -> None:
        """Grow this request's share to ``total`` bytes, or raise :class:`Overloaded`."""
        extra = total - self.size
        if extra <= 0:
            return
        owner = self._owner
        if owner.body_bytes + extra > owner.max_body_bytes:
            raise Overloaded(
                f"the ingress holds {owner.body_bytes} body bytes in flight, at most "
                f"{owner.max_body_bytes}; retry later"
            )
        owner.body_bytes += extra
        self.size = total
