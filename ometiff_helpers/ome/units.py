"""OME unit symbols: normalise spellings and convert lengths to micrometres and times to seconds."""

from __future__ import annotations

from ometiff_helpers.frozen import record

#: the OME ``UnitsLength`` symbols (2015-01 and later) -> micrometres per unit
_LENGTH_UM: dict[str, float] = {
    "Ym": 1e30,
    "Zm": 1e27,
    "Em": 1e24,
    "Pm": 1e21,
    "Tm": 1e18,
    "Gm": 1e15,
    "Mm": 1e12,
    "km": 1e9,
    "hm": 1e8,
    "dam": 1e7,
    "m": 1e6,
    "dm": 1e5,
    "cm": 1e4,
    "mm": 1e3,
    "µm": 1.0,
    "nm": 1e-3,
    "pm": 1e-6,
    "fm": 1e-9,
    "am": 1e-12,
    "zm": 1e-15,
    "ym": 1e-18,
    "Å": 1e-4,
    "thou": 25.4,
    "li": 2116.666666666667,  # 1/12 in
    "in": 25400.0,
    "ft": 304800.0,
    "yd": 914400.0,
    "mi": 1609344000.0,
    "ua": 1.495978707e17,
    "ly": 9.4607304725808e21,
    "pc": 3.0856775814913673e22,
    "pt": 352.77777777777777,  # 1/72 in
}

#: the OME ``UnitsTime`` symbols -> seconds per unit
_TIME_S: dict[str, float] = {
    "Ys": 1e24,
    "Zs": 1e21,
    "Es": 1e18,
    "Ps": 1e15,
    "Ts": 1e12,
    "Gs": 1e9,
    "Ms": 1e6,
    "ks": 1e3,
    "hs": 1e2,
    "das": 1e1,
    "s": 1.0,
    "ds": 1e-1,
    "cs": 1e-2,
    "ms": 1e-3,
    "µs": 1e-6,
    "ns": 1e-9,
    "ps": 1e-12,
    "fs": 1e-15,
    "as": 1e-18,
    "zs": 1e-21,
    "ys": 1e-24,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}

#: common non-schema spellings seen in files -> the schema symbol
_ALIASES: dict[str, str] = {
    "um": "µm",
    "μm": "µm",  # GREEK SMALL LETTER MU
    "micron": "µm",
    "microns": "µm",
    "micrometer": "µm",
    "micrometre": "µm",
    "us": "µs",
    "μs": "µs",
    "A": "Å",
    "Å": "Å",  # ANGSTROM SIGN
    "sec": "s",
}

#: units that are not physical lengths (relative to the image or to a stage)
NON_PHYSICAL_LENGTHS = frozenset({"pixel", "reference frame"})


def normalise_unit(unit: str) -> str:
    """The schema symbol for ``unit`` (``um`` -> ``µm``); unknown strings are returned unchanged."""
    unit = unit.strip()
    return _ALIASES.get(unit, unit)


def is_schema_length_unit(unit: str) -> bool:
    """True if ``unit`` is spelled exactly as the OME schema's ``UnitsLength`` enumeration."""
    return unit in _LENGTH_UM or unit in NON_PHYSICAL_LENGTHS


def length_to_um(value: float, unit: str) -> float | None:
    """``value`` in ``unit`` as micrometres, or None when the unit is not a physical length."""
    factor = _LENGTH_UM.get(normalise_unit(unit))
    return None if factor is None else value * factor


def time_to_s(value: float, unit: str) -> float | None:
    """``value`` in ``unit`` as seconds, or None when the unit is not a time."""
    factor = _TIME_S.get(normalise_unit(unit))
    return None if factor is None else value * factor


@record
class Quantity:
    """A value with the unit the file gave (or the schema default), kept as written."""

    value: float
    unit: str
    unit_defaulted: bool = False  # True when the file omitted the unit and the schema default applies

    def to_um(self) -> float | None:
        """This length in micrometres (None for pixel / reference-frame / unknown units)."""
        return length_to_um(self.value, self.unit)

    def to_s(self) -> float | None:
        """This time in seconds (None for unknown units)."""
        return time_to_s(self.value, self.unit)

    def __str__(self) -> str:
        return f"{self.value:g} {self.unit}"
