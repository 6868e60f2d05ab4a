"""``@record``: frozen dataclasses whose ``==``, hash and repr are shared, answering as the generated ones do."""

from __future__ import annotations

import dataclasses
import importlib
import math
import pickle
import pkgutil
from dataclasses import dataclass, field
from typing import Any

import pytest

import ometiff_helpers
from ometiff_helpers import frozen
from ometiff_helpers.frozen import record


def _pair(body: dict[str, Any], annotations: dict[str, str], **options: Any) -> tuple[type, type]:
    """The same class made by ``@record`` and by ``@dataclass(frozen=True)`` (same name and qualname)."""
    made = []
    for decorate in (record(**options), dataclass(frozen=True, **options)):
        ns = dict(body, __annotations__=dict(annotations), __qualname__="Sample", __module__=__name__)
        made.append(decorate(type("Sample", (), ns)))
    return made[0], made[1]


def _check_alike(ours: type, theirs: type, *args: Any, **kwargs: Any) -> None:
    """Instances built from the same values: same repr, same hash, equal among themselves as the generated ones are."""
    a, b = ours(*args, **kwargs), ours(*args, **kwargs)
    c, d = theirs(*args, **kwargs), theirs(*args, **kwargs)
    assert repr(a) == repr(c)
    assert (a == b) == (c == d)
    assert (a != b) == (c != d)
    if (a == b) and (c == d):
        assert hash(a) == hash(c) == hash(b)
    assert (a == a) == (c == c)  # the same object
    assert a.__eq__(object()) is NotImplemented
    assert (a == c) is False  # another class: never equal


@pytest.mark.parametrize("slots", [False, True])
def test_a_record_compares_hashes_and_prints_as_a_frozen_dataclass(slots: bool) -> None:
    ours, theirs = _pair(
        {
            "hidden": field(default="secret", repr=False),
            "ignored": field(default=0, compare=False),
            "unhashed": field(default=1, hash=False),
        },
        {"x": "int", "y": "float", "name": "str", "hidden": "str", "ignored": "int", "unhashed": "int"},
        slots=slots,
    )
    assert dataclasses.is_dataclass(ours) and ours.__dataclass_params__.frozen  # type: ignore[attr-defined]
    _check_alike(ours, theirs, 1, 2.5, "a")
    _check_alike(ours, theirs, 1, math.nan, "a")  # NaN: equal only to itself
    _check_alike(ours, theirs, 1, 2.5, "a", hidden="other", ignored=7, unhashed=3)
    one = ours(1, 2.5, "a")
    assert "secret" not in repr(one)
    assert one == ours(1, 2.5, "a", ignored=9)  # compare=False
    assert one != ours(1, 2.5, "a", unhashed=9)  # hash=False still compares
    assert hash(one) == hash(ours(1, 2.5, "a", unhashed=9))
    assert hash(one) == hash(theirs(1, 2.5, "a"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.x = 2  # type: ignore[misc]
    assert dataclasses.replace(one, x=5) == ours(5, 2.5, "a")
    assert dataclasses.asdict(one)["hidden"] == "secret"
    assert {one, ours(1, 2.5, "a")} == {one}


def test_records_of_none_and_of_one_field_hash_a_tuple() -> None:
    for fields_, args in (({}, ()), ({"only": "int"}, (3,))):
        ours, theirs = _pair({}, fields_)
        _check_alike(ours, theirs, *args)
        assert hash(ours(*args)) == hash(tuple(args))


def test_a_recursive_repr_shows_dots_and_methods_of_the_class_are_kept() -> None:
    ours, theirs = _pair({}, {"items": "list"})
    a, c = ours([]), theirs([])
    a.items.append(a)
    c.items.append(c)
    assert repr(a) == repr(c) == "Sample(items=[...])"

    @record
    class Shown:
        """A record with a repr of its own."""

        value: int

        def __repr__(self) -> str:
            return "shown"

    assert repr(Shown(1)) == "shown" and Shown(1) == Shown(1)


def test_a_record_subclass_uses_its_own_fields_and_pickles() -> None:
    @record
    class Base:
        """A record."""

        a: int

    @record
    class Child(Base):
        """A record with one more field."""

        b: int = 0

    assert Child(1, 2) != Child(1, 3) and Child(1, 2) == Child(1, 2)
    assert (
        repr(Child(1, 2)) == "test_a_record_subclass_uses_its_own_fields_and_pickles.<locals>.Child(a=1, b=2)"
    )
    assert Base(1) != Child(1)
    assert hash(Child(1, 2)) == hash((1, 2))
    from ometiff_helpers.ome.model import Roi
    from ometiff_helpers.tiff.model import Tag

    tag = Tag(code=256, type=3, count=1, value=(512,), value_offset=None, nbytes=2, entry_offset=10)
    roi = Roi(id="ROI:1", name="cell", annotation_refs=("Annotation:1",))  # a record with slots
    for value in (tag, roi):
        back = pickle.loads(pickle.dumps(value))  # noqa: S301 - our own bytes
        assert back == value and hash(back) == hash(value) and repr(back) == repr(value)
    assert "__dict__" not in dir(roi) and Roi.__slots__[:2] == ("id", "name")


def test_every_frozen_record_of_the_package_is_made_by_record() -> None:
    """One way to declare a record: a frozen dataclass with generated comparison methods is the exception, and is
    listed here (ordering needs the generated ``__lt__``)."""
    generated = []
    for info in pkgutil.walk_packages(ometiff_helpers.__path__, "ometiff_helpers."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and value.__module__ == module.__name__
                and dataclasses.is_dataclass(value)
                and value.__dataclass_params__.frozen  # type: ignore[attr-defined]
                and value.__eq__ is not frozen._eq
            ):
                generated.append(f"{value.__module__}.{value.__qualname__}")
    assert sorted(generated) == [
        "ometiff_helpers.diagnose.viewer.ViewerVersion",
    ]
