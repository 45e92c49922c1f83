"""schemas.frozen: a value class with a frozen dataclass's equality and hash, built cheaply."""

from __future__ import annotations

import dataclasses

import pytest

from schemas.frozen import frozen


@frozen
class Point:
    x: int
    y: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class FrozenPoint:
    x: int
    y: int = 0


def test_values_with_equal_fields_are_equal() -> None:
    assert Point(1, 2) == Point(1, 2)
    assert Point(1, 2) != Point(1, 3)


def test_the_hash_is_a_frozen_dataclass_s_hash_of_the_fields() -> None:
    assert hash(Point(1, 2)) == hash(FrozenPoint(1, 2)) == hash((1, 2))


def test_a_value_has_slots_and_no_instance_dictionary() -> None:
    assert not hasattr(Point(1), "__dict__")


def test_a_changed_copy_is_made_with_dataclasses_replace() -> None:
    assert dataclasses.replace(Point(1, 2), y=5) == Point(1, 5)


def test_a_value_with_an_unhashable_field_refuses_a_hash_as_a_frozen_dataclass_does() -> None:
    @frozen
    class Holder:
        items: list[int]

    with pytest.raises(TypeError):
        hash(Holder([1]))
