"""Equality, hashing and repr for the small value classes `tokens get` and `tokens exec`
load (Config, TokenRecord, Target, ...).

They are plain classes with `__slots__` and a written-out `__init__` rather than
dataclasses: importing `dataclasses` pulls in `inspect`, `ast`, `dis` and `tokenize`,
and every @dataclass compiles its methods with exec at import — together a good part
of what the hot commands spent beyond the Secret Service read (README "Performance";
tests/test_hot_path.py keeps `dataclasses` and `inspect` off that path). Classes no
hot command loads stay dataclasses.
"""

from __future__ import annotations


class Plain:
    """Compares, hashes and prints by the values of its `__slots__`, in order, as a
    dataclass(eq=True, frozen=True) does. Subclasses set `__slots__` and `__init__`."""

    __slots__: tuple[str, ...] = ()

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{self.__class__.__qualname__}({fields})"
