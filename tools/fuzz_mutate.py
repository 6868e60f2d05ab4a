"""The mutations of ``tools/fuzz.py``: seeds (corpus TIFFs, generated pyramids), their structure, and
structure-aware mutants, each reproducible from ``(seed, index)``.

A mutant is a seed plus 1 to 3 mutations chosen by ``random.Random(f"{seed}:{index}")``. The mutators know the
TIFF structure (read once per seed with ``read_tiff``): header, IFD entry counts, field types, value counts, value
offsets, next-IFD and SubIFD pointers (to the IFD itself, an earlier IFD, past the end, odd offsets, into pixel
data, a flood of SubIFDs into a block of garbage words), truncation, byte flips; and the OME-XML (unclosed tags,
DOCTYPE and entities, huge attributes, invalid UTF-8, UTF-16, absurd sizes, negative numbers, many TiffData, deep
nesting, many channels), re-attached at the end of the file as IFD 0's ImageDescription.
"""

from __future__ import annotations

import json
import random
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ometiff_helpers.errors import OmeTiffError  # noqa: E402
from ometiff_helpers.io.local import FileSource  # noqa: E402
from ometiff_helpers.tiff.codes import TIFF_FORMATS  # noqa: E402
from ometiff_helpers.tiff.read import read_tiff  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
TIFF_SUFFIXES = (".tif", ".tiff", ".btf", ".tf8", ".tf2")


# --- seeds -------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedInfo:
    """What the mutators need to know about a seed: its IFDs, entries and ImageDescription."""

    path: str
    size: int
    bigtiff: bool = False
    byteorder: str = "<"
    ifds: tuple[int, ...] = ()  # every IFD offset (chain and SubIFDs), depth-first
    counts: tuple[int, ...] = ()  # entry count of each of those IFDs
    next_slots: tuple[int, ...] = ()  # file offset of each IFD's next pointer
    entries: tuple[tuple[int, int, int], ...] = ()  # (entry offset, code, type) of every entry
    subifd_entries: tuple[tuple[int, int, int], ...] = ()  # (entry offset, count, value offset or -1)
    data_offsets: tuple[int, ...] = ()  # some pixel data offsets (first strip / tile of each IFD)
    desc_entry: int = -1  # IFD 0's ImageDescription entry offset
    description: bytes = b""


def analyse(path: Path) -> SeedInfo:
    """Read ``path``'s structure with the reader itself; a seed it cannot read gets raw mutations only."""
    size = path.stat().st_size
    try:
        with FileSource(path) as src:
            st = read_tiff(src)
    except OmeTiffError:
        return SeedInfo(str(path), size)
    entries, subs, data = [], [], []
    for ifd in st.all_ifds():
        for t in ifd.tags:
            entries.append((t.entry_offset, t.code, t.type))
            if t.code == 330:
                subs.append((t.entry_offset, t.count, -1 if t.value_offset is None else t.value_offset))
            if t.code in (273, 324) and isinstance(t.value, tuple) and t.value:
                data.append(int(t.value[0]))
    all_ifds = st.all_ifds()
    fmt = st.format
    desc = st.ifds[0].tag(270) if st.ifds else None
    return SeedInfo(
        str(path),
        size,
        st.bigtiff,
        st.byteorder,
        tuple(i.offset for i in all_ifds),
        tuple(len(i.tags) for i in all_ifds),
        tuple(i.offset + fmt.count_size + len(i.tags) * fmt.entry_size for i in all_ifds),
        tuple(entries),
        tuple(subs),
        tuple(data),
        -1 if desc is None else desc.entry_offset,
        st.image_description or b"",
    )


def corpus_seeds(corpus: Path) -> list[Path]:
    """Every TIFF file of the corpus, sorted (the seed list must not depend on directory order)."""
    if not corpus.is_dir():
        return []
    return sorted(p for p in corpus.rglob("*") if p.is_file() and p.name.lower().endswith(TIFF_SUFFIXES))


GENERATED = {
    # name: (gen_defects.Spec keyword arguments)
    "pyramid.ome.tif": {"levels": 3, "size_x": 128, "size_y": 96, "size_c": 2},
    "pyramid-be-bigtiff.ome.tif": {"levels": 3, "byteorder": ">", "bigtiff": True, "size_c": 3},
    "legacy.ome.tif": {"levels": 3, "legacy": True},
    "strips-z.ome.tif": {"tile": None, "compression": None, "size_z": 3, "size_c": 1},
    "rgb.ome.tif": {"rgb": True, "levels": 2, "size_x": 64, "size_y": 64},
}


def make_generated_seeds(out: Path) -> list[Path]:
    """Write the generated seeds into ``out`` (in a child process: tifffile and numpy stay out of this one)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / name for name in GENERATED] + [out / "tifffile-pyramid.ome.tif"]
    if all(p.is_file() for p in paths):
        return paths
    code = (
        "import sys, json; sys.path[:0] = [sys.argv[1]]\n"
        "from pathlib import Path\n"
        "from gen_defects import Spec, write\n"
        "from gen_tiff import write_tifffile_pyramid\n"
        "out = Path(sys.argv[2])\n"
        "for name, kw in json.loads(sys.argv[3]).items(): write(out / name, Spec(**kw))\n"
        "write_tifffile_pyramid(out / 'tifffile-pyramid.ome.tif', channels=2, base=512, levels=3, tile=128)\n"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(ROOT / "tests"), str(out), json.dumps(GENERATED)],
        check=True,
        timeout=300,
    )
    return paths


# --- mutations ---------------------------------------------------------------------------------------------------------


class Mutant:
    """A seed's bytes being mutated, with the seed's structure and a log of what was done."""

    def __init__(self, data: bytes, info: SeedInfo, rng: random.Random) -> None:
        self.buf = bytearray(data)
        self.info = info
        self.rng = rng
        self.log: list[str] = []
        self.fmt = TIFF_FORMATS[(info.bigtiff, info.byteorder)]

    def put(self, pos: int, fmt_char: str, value: int) -> None:
        """Write one integer at ``pos`` in the seed's byte order (clamped to the field, ignored past the end)."""
        size = struct.calcsize(fmt_char)
        if pos < 0 or pos + size > len(self.buf):
            return
        value &= (1 << (8 * size)) - 1
        struct.pack_into(self.info.byteorder + fmt_char, self.buf, pos, value)

    def offset_char(self) -> str:
        return self.fmt.offset_char

    def weird_offset(self, here: int = 0) -> tuple[int, str]:
        """An offset a damaged file might hold, and its name."""
        n = len(self.buf)
        ifds = self.info.ifds or (8,)
        choices: list[tuple[int, str]] = [
            (0, "0"),
            (1, "1 (inside the header)"),
            (here, "itself"),
            (here + 2, "2 bytes into itself"),
            (here + 1, "odd, 1 byte into itself"),
            (n, "EOF"),
            (n - 1, "EOF - 1"),
            (n + 10_000, "past EOF"),
            (0xFFFFFFFF, "0xFFFFFFFF"),
            (self.rng.choice(ifds), "an IFD"),
            (ifds[0], "IFD 0"),
            (self.rng.randrange(8, max(9, n)), "random"),
        ]
        if self.info.data_offsets:
            choices.append((self.rng.choice(self.info.data_offsets), "pixel data"))
        if self.info.bigtiff:
            choices += [(2**63, "2^63"), (2**64 - 1, "2^64 - 1")]
        return self.rng.choice(choices)


def _count_value(m: Mutant) -> tuple[int, str]:
    big = m.info.bigtiff
    return m.rng.choice(
        [
            (0, "0"),
            (1, "1"),
            (2, "2"),
            (0xFFFF, "65,535"),
            (2**31, "2^31"),
            (2**32 - 1, "2^32 - 1"),
            (2**40 if big else 2**20, "huge"),
            (m.rng.randrange(1, 5000), "random"),
        ]
    )


def mut_header(m: Mutant) -> None:
    """Byte-order mark, version or IFD 0 offset."""
    what = m.rng.randrange(4)
    if what == 0:
        m.buf[0:2] = m.rng.choice([b"MM", b"II", b"IM", b"\x00\x00"])
        m.log.append(f"byte order mark -> {bytes(m.buf[0:2])!r}")
    elif what == 1:
        v = m.rng.choice([42, 43, 0, 44, 0x2A00])
        m.put(2, "H", v)
        m.log.append(f"version -> {v}")
    else:
        v, name = m.weird_offset(8)
        m.put(4 if not m.info.bigtiff else 8, m.offset_char(), v)
        m.log.append(f"IFD 0 offset -> {name}")


def mut_entry_count(m: Mutant) -> None:
    """The entry count of one IFD."""
    if not m.info.ifds:
        return mut_bytes(m)
    i = m.rng.randrange(len(m.info.ifds))
    v = m.rng.choice([0, 1, m.info.counts[i] + 1, m.info.counts[i] - 1, 4095, 4096, 0xFFFF])
    m.put(m.info.ifds[i], m.fmt.count_char, v)
    m.log.append(f"IFD #{i} entry count {m.info.counts[i]} -> {v}")


def _entry(m: Mutant) -> tuple[int, int, int]:
    return m.rng.choice(m.info.entries)


def mut_type(m: Mutant) -> None:
    """The field type of one entry."""
    if not m.info.entries:
        return mut_bytes(m)
    pos, code, _typ = _entry(m)
    v = m.rng.choice([0, 2, 3, 4, 7, 12, 14, 15, 16, 19, 0x0FFF, 0xFFFF])
    m.put(pos + 2, "H", v)
    m.log.append(f"tag {code} type -> {v}")


def mut_value_count(m: Mutant) -> None:
    """The value count of one entry (often the ImageDescription or an offsets array)."""
    if not m.info.entries:
        return mut_bytes(m)
    pos, code, _t = _entry(m)
    if m.info.desc_entry >= 0 and m.rng.random() < 0.3:
        pos, code = m.info.desc_entry, 270
    v, name = _count_value(m)
    m.put(pos + 4, "Q" if m.info.bigtiff else "I", v)
    m.log.append(f"tag {code} count -> {name}")


def mut_value_offset(m: Mutant) -> None:
    """The value slot (inline value or value offset) of one entry."""
    if not m.info.entries:
        return mut_bytes(m)
    pos, code, _t = _entry(m)
    if m.info.desc_entry >= 0 and m.rng.random() < 0.2:
        pos, code = m.info.desc_entry, 270
    v, name = m.weird_offset(pos)
    slot = pos + (4 + 4 if not m.info.bigtiff else 4 + 8)
    m.put(slot, m.offset_char(), v)
    m.log.append(f"tag {code} value slot -> {name}")


def mut_next_ifd(m: Mutant) -> None:
    """One IFD's next-IFD pointer: to itself, an earlier IFD, past the end, odd, into data."""
    if not m.info.next_slots:
        return mut_bytes(m)
    i = m.rng.randrange(len(m.info.next_slots))
    v, name = m.weird_offset(m.info.ifds[i])
    m.put(m.info.next_slots[i], m.offset_char(), v)
    m.log.append(f"IFD #{i} next pointer -> {name}")


def mut_subifds(m: Mutant) -> None:
    """SubIFD pointers to odd places, a huge SubIFD count, or a flood of SubIFDs into a block of garbage words."""
    if not m.info.subifd_entries:
        return mut_subifd_flood(m) if m.rng.random() < 0.5 else mut_next_ifd(m)
    pos, count, voff = m.rng.choice(m.info.subifd_entries)
    what = m.rng.randrange(3)
    size = m.fmt.offset_size
    if what == 0 and voff >= 0:
        k = m.rng.randrange(count)
        v, name = m.weird_offset(m.info.ifds[0])
        m.put(voff + k * size, m.offset_char(), v)
        m.log.append(f"SubIFD {k} pointer -> {name}")
    elif what == 1:
        v, name = _count_value(m)
        m.put(pos + 4, "Q" if m.info.bigtiff else "I", v)
        m.log.append(f"SubIFDs count -> {name}")
    else:
        mut_subifd_flood(m)


def mut_subifd_flood(m: Mutant) -> None:
    """Append N SubIFD pointers 2 bytes apart into a block of one repeated word, and point IFD 0's SubIFDs at them."""
    n = m.rng.choice([5, 50, 500, 2000, 20_000])
    word = m.rng.choice([b"\xff\x0f", b"\x0f\xff", b"\x03\x00", b"\x00\x10", b"\xff\xff"])
    stride, what = 2, f"words {word.hex()}"
    if m.rng.random() < 0.4:  # a block of valid-looking entries: each SubIFD reads 4,095 of them
        word, stride, what = _entry_pattern(m)
    size = m.fmt.offset_size
    while len(m.buf) % 2:
        m.buf += b"\x00"
    arr = len(m.buf)
    block = arr + n * size
    fmt = m.info.byteorder + m.fmt.offset_char
    m.buf += b"".join(struct.pack(fmt, block + stride * k) for k in range(n))
    m.buf += word * ((stride * n + 4096 * m.fmt.entry_size) // len(word) + 8)
    target = [e for e in m.info.subifd_entries] or []
    if target:
        pos = target[0][0]
    elif m.info.entries:
        pos = m.rng.choice(m.info.entries)[0]  # turn some entry into a SubIFDs tag
        m.put(pos, "H", 330)
    else:
        m.log.append(f"appended {n:,} SubIFD pointers (unreferenced)")
        return
    m.put(pos + 2, "H", 18 if m.info.bigtiff else 13)
    m.put(pos + 4, "Q" if m.info.bigtiff else "I", n)
    m.put(pos + (8 if not m.info.bigtiff else 12), m.offset_char(), arr)
    m.log.append(f"SubIFD flood: {n:,} pointers {stride} bytes apart into {what}")


def _entry_pattern(m: Mutant) -> tuple[bytes, int, str]:
    """One entry's worth of bytes that, repeated, reads as an IFD of 4,095 entries of one known type."""
    bo, fmt = m.info.byteorder, m.fmt
    code = m.rng.choice([7, 256, 270, 273, 330])
    typ = m.rng.choice([1, 2, 3, 4, 13, 16])
    vcount = m.rng.choice([1, 2, 100, 2000])
    head = struct.pack(bo + fmt.count_char, 4095) + struct.pack(bo + "HH", code, typ)
    head += struct.pack(bo + ("Q" if m.info.bigtiff else "I"), vcount)
    pattern = head + bytes(fmt.entry_size - len(head))
    return pattern, fmt.entry_size, f"entries (tag {code}, type {typ}, count {vcount})"


def mut_chain_flood(m: Mutant) -> None:
    """Append N one-entry IFDs, each pointing at the next, and hang them after IFD 0 (past max_ifds or not)."""
    if not m.info.next_slots:
        return mut_next_ifd(m)
    n = m.rng.choice([100, 2000, 5000, 12_000])
    bo, fmt = m.info.byteorder, m.fmt
    while len(m.buf) % 2:
        m.buf += b"\x00"
    first = len(m.buf)
    size = fmt.ifd_size(1)
    parts = []
    for k in range(n):
        nxt = first + (k + 1) * size if k + 1 < n else 0
        entry = fmt.entry_struct.pack(256, 4, 1) + struct.pack(bo + fmt.offset_char, 8)
        parts.append(struct.pack(bo + fmt.count_char, 1) + entry + struct.pack(bo + fmt.offset_char, nxt))
    m.buf += b"".join(parts)
    m.put(m.info.next_slots[0], fmt.offset_char, first)
    m.log.append(f"chain flood: {n:,} one-entry IFDs after IFD 0")


def mut_truncate(m: Mutant) -> None:
    """Cut the file: at a random place, just inside an IFD, or inside the description."""
    points = [m.rng.randrange(1, max(2, len(m.buf)))]
    points += [o + m.rng.randrange(0, 16) for o in m.info.ifds[:8]]
    cut = min(m.rng.choice(points), len(m.buf))
    del m.buf[cut:]
    m.log.append(f"truncated at {cut:,}")


def mut_bytes(m: Mutant) -> None:
    """Flip a few random bytes, mostly in the first 64 KiB (where the IFDs usually are)."""
    n = m.rng.choice([1, 2, 4, 16])
    span = min(len(m.buf), 65536) if m.rng.random() < 0.8 else len(m.buf)
    for _ in range(n):
        if span:
            m.buf[m.rng.randrange(span)] = m.rng.randrange(256)
    m.log.append(f"{n} random bytes")


# --- XML mutations ---


def _xml(m: Mutant) -> str:
    try:
        return m.info.description.rstrip(b"\x00").decode("utf-8")
    except UnicodeDecodeError:
        return m.info.description.rstrip(b"\x00").decode("latin-1")


def _set_attr(xml: str, name: str, value: str) -> str:
    key = f' {name}="'
    i = xml.find(key)
    if i < 0:
        return xml.replace("<Pixels ", f'<Pixels {name}="{value}" ', 1)
    j = xml.find('"', i + len(key))
    return xml[: i + len(key)] + value + xml[j:]


def _xml_text_mutations(m: Mutant, xml: str) -> tuple[str | bytes, str]:
    rng = m.rng
    kind = rng.randrange(12)
    if kind == 0:
        i = xml.rfind("</")
        return (xml[:i] if i > 0 else xml[:-5]), "unclosed tags (cut before the last end tag)"
    if kind == 1:
        head = (
            '<?xml version="1.0"?><!DOCTYPE OME [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
            '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        )
        body = xml.split("?>", 1)[-1]
        return head + body.replace("Creator=", 'Name="&c;" Creator=', 1), "DOCTYPE with nested entities"
    if kind == 2:
        n = rng.choice([10_000, 1_000_000, 5_000_000])
        return xml.replace("<Pixels ", f'<Pixels Huge="{"x" * n}" ', 1), f"attribute of {n:,} characters"
    if kind == 3:
        raw = xml.encode()
        i = rng.randrange(len(raw)) if raw else 0
        return raw[:i] + b"\xff\xfe\xc3" + raw[i:], "invalid UTF-8 bytes"
    if kind == 4:
        return "\ufeff".encode("utf-16-le") + xml.encode("utf-16-le"), "UTF-16 with BOM"
    if kind == 5:
        attr = rng.choice(["SizeZ", "SizeC", "SizeT", "SizeX", "SizeY"])
        v = rng.choice(["1000000", "4294967296", "99999999999999999999", "1e9", "2147483647"])
        out = _set_attr(xml, attr, v)
        if rng.random() < 0.5:
            out = out.replace("<TiffData", f'<TiffData PlaneCount="{v}"', 1)
        return out, f"absurd {attr}={v}"
    if kind == 6:
        attr = rng.choice(["SizeZ", "SizeC", "SizeX", "IFD", "FirstZ", "PlaneCount", "SamplesPerPixel"])
        v = rng.choice(["-1", "-2147483648", "-0", "-1e3"])
        if attr in ("IFD", "FirstZ", "PlaneCount"):
            return xml.replace("<TiffData", f'<TiffData {attr}="{v}"', 1), f"negative TiffData@{attr}"
        return _set_attr(xml, attr, v), f"negative {attr}"
    if kind == 7:
        n = rng.choice([1000, 100_000])
        tds = "".join(f'<TiffData IFD="{k}" PlaneCount="1"/>' for k in range(n))
        return xml.replace("</Pixels>", tds + "</Pixels>", 1), f"{n:,} TiffData"
    if kind == 8:
        depth = rng.choice([200, 5000])
        nest = "<X>" * depth + "</X>" * depth
        return xml.replace("</OME>", nest + "</OME>", 1), f"elements nested {depth} deep"
    if kind == 9:
        cut = rng.randrange(len(xml)) if xml else 0
        return xml[:cut], f"XML cut at {cut}"
    if kind == 10:
        return xml.replace("<", "<ns9:", 3), "undeclared prefixes"
    many = "".join(
        f'<Channel ID="Channel:0:{k}" SamplesPerPixel="1"/>' for k in range(rng.choice([100, 20_000]))
    )
    return xml.replace("</Pixels>", many + "</Pixels>", 1), "many channels"


def mut_xml(m: Mutant) -> None:
    """Mutate the OME-XML and attach it at the end of the file as IFD 0's ImageDescription."""
    if m.info.desc_entry < 0:
        return mut_value_count(m) if m.info.entries else mut_bytes(m)
    new, what = _xml_text_mutations(m, _xml(m) or "<OME/>")
    data = new.encode("utf-8") if isinstance(new, str) else new
    data += b"\x00"
    while len(m.buf) % 2:
        m.buf += b"\x00"
    at = len(m.buf)
    m.buf += data
    pos = m.info.desc_entry
    m.put(pos + 2, "H", 2)
    m.put(pos + 4, "Q" if m.info.bigtiff else "I", len(data))
    m.put(pos + (8 if not m.info.bigtiff else 12), m.offset_char(), at)
    m.log.append(f"XML: {what}")


MUTATORS: tuple[tuple[Callable[[Mutant], None], int], ...] = (
    (mut_header, 4),
    (mut_entry_count, 8),
    (mut_type, 8),
    (mut_value_count, 10),
    (mut_value_offset, 10),
    (mut_next_ifd, 8),
    (mut_subifds, 8),
    (mut_subifd_flood, 3),
    (mut_chain_flood, 2),
    (mut_truncate, 6),
    (mut_bytes, 6),
    (mut_xml, 18),
)


def mutate(data: bytes, info: SeedInfo, rng: random.Random) -> tuple[bytes, list[str]]:
    """Apply 1 to 3 mutations (weighted; XML ones only once) to ``data``; the bytes and what was done."""
    m = Mutant(data, info, rng)
    funcs = [f for f, _ in MUTATORS]
    weights = [w for _, w in MUTATORS]
    n = rng.choice([1, 1, 2, 3])
    for f in rng.choices(funcs, weights, k=n):
        f(m)
    return bytes(m.buf), m.log


@dataclass
class Plan:
    """The seeds of a run and their structure, in a fixed order."""

    seeds: list[Path]
    infos: dict[Path, SeedInfo] = field(default_factory=dict)

    def info(self, path: Path) -> SeedInfo:
        if path not in self.infos:
            self.infos[path] = analyse(path)
        return self.infos[path]

    def mutant(self, seed: int, index: int) -> tuple[Path, bytes, list[str]]:
        """Mutant ``index`` of run ``seed``: its seed file, bytes and mutations (deterministic)."""
        rng = random.Random(f"{seed}:{index}")  # noqa: S311 (reproducible, not secret)
        path = self.seeds[rng.randrange(len(self.seeds))]
        data, log = mutate(path.read_bytes(), self.info(path), rng)
        return path, data, log


def iter_mutants(seed: int, count: int, seeds: list[Path]) -> Iterator[tuple[int, bytes, list[str]]]:
    """Mutants ``0 .. count - 1`` of run ``seed`` over ``seeds`` (for tests and one-off scripts)."""
    plan = Plan(seeds)
    for i in range(count):
        _src, data, log = plan.mutant(seed, i)
        yield i, data, log
