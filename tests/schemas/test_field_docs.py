"""schemas/field_docs.py: the ``#:`` comments above model fields, read as descriptions."""

from __future__ import annotations

from schemas.field_docs import field_docs


class Base:
    #: Said in the base.
    shared: int = 1
    #: The base's word.
    overridden: int = 2


class Child(Base):
    #: The first line,
    #: and its continuation.
    own: int = 3
    #: The child's word.
    overridden: int = 4
    undocumented: int = 5


def test_a_comment_above_a_field_describes_it() -> None:
    assert field_docs(Child)["own"] == "The first line, and its continuation."


def test_a_field_of_a_base_class_keeps_its_comment() -> None:
    assert field_docs(Child)["shared"] == "Said in the base."


def test_the_nearest_class_comment_wins() -> None:
    assert field_docs(Child)["overridden"] == "The child's word."


def test_a_field_without_a_comment_has_no_description() -> None:
    assert "undocumented" not in field_docs(Child)
