"""Structure-aware mutation fuzz of the reader: every mutant inspected in its own process with a time and memory cap.

    python tools/fuzz.py --count 10000 --seed 1 --out fuzz-out      # the long run (see README.md)
    python tools/fuzz.py --count 300 --seed 7 --out /tmp/f --jobs 2  # a short one (tests/test_fuzz.py)
    python tools/fuzz.py --seed 1 --only 4711 --out /tmp/f --keep    # one mutant again, kept on disk

Seeds: the TIFF files of the shared corpus (``../shared/corpus``) and small files generated here with tifffile
(pyramids with SubIFDs, legacy chains, big-endian BigTIFF; written by a child process so that this one never imports
numpy). A mutant is ``seed + 1..3 mutations``, chosen by ``random.Random(f"{seed}:{index}")``: the same seed and
index give the same bytes whatever the order, the job count or the machine.

Mutations know the TIFF structure (read once per seed with ``read_tiff``): header (byte order, version, IFD 0
offset), IFD entry counts, field types, value counts, value offsets, next-IFD and SubIFD pointers (to the IFD itself,
an earlier IFD, past the end, odd offsets, into pixel data, a flood of SubIFDs into a block of garbage words),
truncation, byte flips, and the OME-XML (unclosed tags, DOCTYPE and entities, huge attributes, invalid UTF-8,
UTF-16, absurd sizes, negative numbers, many TiffData, deep nesting), re-attached as IFD 0's ImageDescription.

Each mutant runs ``python -m ometiff_helpers FILE --json --no-probes`` in a forked child (the package imported once
by this process, so a child costs no interpreter start) under ``RLIMIT_AS`` and ``RLIMIT_CPU`` (``--cpu``) and a
wide wall-clock timeout (``--timeout``: a busy machine stretches wall time, not CPU time), with ``OMETIFF_DEBUG=1``
so that an internal error shows its traceback. Classes: ``ok`` (exit 0), ``error`` (exit 2 and one ``error: ...``
line on stderr: a clean ometiff_helpers error), ``crash`` (a traceback or any other exit), ``hang`` (killed at the
timeout or the CPU limit), ``memory`` (MemoryError or killed at the address-space limit).
The summary (``summary.json`` and ``summary.txt`` in ``--out``)
gives the counts, the distribution of wall time, CPU time, peak memory and JSON size, and the slowest five with their
mutations and the functions they spent their time in (re-run under cProfile). Mutants that crash, hang, run out of
memory or exceed the budgets are kept in ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import random
import resource
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ometiff_helpers.__main__ import main as inspect_main  # noqa: E402
from ometiff_helpers.errors import OmeTiffError  # noqa: E402
from ometiff_helpers.io.source import FileSource  # noqa: E402
from ometiff_helpers.tiff.codes import TIFF_FORMATS  # noqa: E402
from ometiff_helpers.tiff.read import read_tiff  # noqa: E402

#: modules the inspection imports lazily: imported here once, so that no forked child pays for them
_WARM = ("ometiff_helpers.diagnose.evaluate",)
for _name in _WARM:
    with contextlib.suppress(ImportError):
        importlib.import_module(_name)

CORPUS = ROOT.parent / "shared" / "corpus"
TIFF_SUFFIXES = (".tif", ".tiff", ".btf", ".tf8", ".tf2")
#: budgets every mutant must meet (the reader's promise: no small file costs more)
TIME_BUDGET_S = 5.0
MEMORY_BUDGET_MB = 300
JSON_BUDGET_KB = 300
CLASSES = ("ok", "error", "crash", "hang", "memory")

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
    size = m.fmt.offset_size
    while len(m.buf) % 2:
        m.buf += b"\x00"
    arr = len(m.buf)
    block = arr + n * size
    fmt = m.info.byteorder + m.fmt.offset_char
    m.buf += b"".join(struct.pack(fmt, block + 2 * k) for k in range(n))
    m.buf += word * (n + 4096 * m.fmt.entry_size // 2 + 8)
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
    m.log.append(f"SubIFD flood: {n:,} pointers 2 bytes apart into words {word.hex()}")


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


# --- running -----------------------------------------------------------------------------------------------------------


@dataclass
class Result:
    """One mutant's outcome."""

    index: int
    seed_file: str
    mutations: list[str]
    cls: str
    exit: int | None
    signal: int | None
    wall_s: float
    cpu_s: float
    peak_mb: float
    json_kb: float
    size: int
    stderr: str
    over_budget: list[str] = field(default_factory=list)
    profile: list[str] = field(default_factory=list)


def _child(path: str, out: str, err: str, mem_mb: int, cpu_s: int, profile: str | None) -> None:
    """In the forked child: caps, redirections, then the command line's main; never returns."""
    code = 70
    try:
        resource.setrlimit(resource.RLIMIT_AS, (mem_mb << 20, mem_mb << 20))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
        for fd, name in ((1, out), (2, err)):
            f = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(f, fd)
            os.close(f)
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        os.environ["OMETIFF_DEBUG"] = "1"
        main = inspect_main
        argv = [path, "--json", "--no-probes"]
        if profile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            code = prof.runcall(main, argv)
            with open(profile, "w") as fh:
                pstats.Stats(prof, stream=fh).sort_stats("tottime").print_stats(8)
        else:
            code = main(argv)
        sys.stdout.flush()
        sys.stderr.flush()
    except MemoryError:
        code = 71
        with contextlib.suppress(BaseException):
            os.write(2, b"MemoryError\n")
    except BaseException:
        with contextlib.suppress(BaseException):
            traceback.print_exc()
            sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 70)


def classify(exit_code: int | None, sig: int | None, stderr: str, timed_out: bool) -> str:
    """ok / error / crash / hang / memory from how the child ended and what it said."""
    if timed_out or sig == signal.SIGXCPU:
        return "hang"
    if exit_code == 71 or "MemoryError" in stderr:
        return "memory"
    if sig is not None:
        return "crash"
    if exit_code == 0:
        return "ok"
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    if exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: "):
        return "error"
    return "crash"


@dataclass
class _Running:
    index: int
    pid: int
    t0: float
    path: Path
    seed_file: str
    mutations: list[str]
    size: int
    killed: bool = False


def run(
    plan: Plan,
    *,
    seed: int,
    indices: list[int],
    out: Path,
    jobs: int = 2,
    timeout_s: float = 300.0,
    cpu_s: int = 30,
    mem_mb: int = 2048,
    keep: bool = False,
    on_result: Callable[[Result], None] | None = None,
) -> list[Result]:
    """Inspect the mutants ``indices`` of run ``seed``, ``jobs`` at a time, each in a forked child.

    A child is a hang when it uses ``cpu_s`` seconds of CPU (``RLIMIT_CPU``) or runs ``timeout_s`` wall seconds
    (a blocked child); the wall bound is wide because a busy machine stretches wall time, not CPU time.
    """
    work = Path(tempfile.mkdtemp(prefix="fuzz-", dir=out))
    results: list[Result] = []
    pending = list(indices)
    running: dict[int, _Running] = {}
    try:
        while pending or running:
            while pending and len(running) < jobs:
                index = pending.pop(0)
                seed_file, data, mutations = plan.mutant(seed, index)
                path = work / f"{index}.tif"
                path.write_bytes(data)
                pid = _fork(path, mem_mb, cpu_s, None)
                running[pid] = _Running(
                    index, pid, time.monotonic(), path, _rel(seed_file), mutations, len(data)
                )
            pid, status, usage = os.wait4(-1, os.WNOHANG)
            if pid == 0:
                now = time.monotonic()
                for r in running.values():
                    if not r.killed and now - r.t0 > timeout_s:
                        os.kill(r.pid, signal.SIGKILL)
                        r.killed = True
                time.sleep(0.002)
                continue
            r = running.pop(pid)
            res = _result(r, status, usage, time.monotonic() - r.t0)
            if res.cls not in ("ok", "error") or res.over_budget or keep:
                kept = out / f"{res.cls}-{seed}-{res.index}.tif"
                r.path.replace(kept)
            for suffix in ("", ".out", ".err"):
                with contextlib.suppress(FileNotFoundError):
                    Path(str(r.path) + suffix).unlink()
            results.append(res)
            if on_result is not None:
                on_result(res)
    finally:
        for r in running.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(r.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(r.pid, 0)
        for p in work.iterdir():
            p.unlink()
        work.rmdir()
    results.sort(key=lambda r: r.index)
    return results


def _fork(path: Path, mem_mb: int, cpu_s: int, profile: str | None) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _child(str(path), str(path) + ".out", str(path) + ".err", mem_mb, cpu_s, profile)
    return pid


def _result(r: _Running, status: int, usage: resource.struct_rusage, wall: float) -> Result:
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    err_path, out_path = Path(str(r.path) + ".err"), Path(str(r.path) + ".out")
    stderr = err_path.read_text(errors="replace")[-4000:] if err_path.exists() else ""
    json_kb = out_path.stat().st_size / 1024 if out_path.exists() else 0.0
    cls = classify(code, sig, stderr, r.killed)
    res = Result(
        r.index,
        r.seed_file,
        r.mutations,
        cls,
        code,
        sig,
        round(wall, 3),
        round(usage.ru_utime + usage.ru_stime, 3),
        round(usage.ru_maxrss / 1024, 1),
        round(json_kb, 1),
        r.size,
        stderr.strip().splitlines()[-1][:300] if stderr.strip() else "",
    )
    if res.cpu_s > TIME_BUDGET_S:
        res.over_budget.append(f"cpu {res.cpu_s:.1f} s > {TIME_BUDGET_S} s")
    if res.peak_mb > MEMORY_BUDGET_MB:
        res.over_budget.append(f"memory {res.peak_mb:.0f} MB > {MEMORY_BUDGET_MB} MB")
    if res.json_kb > JSON_BUDGET_KB:
        res.over_budget.append(f"json {res.json_kb:.0f} KB > {JSON_BUDGET_KB} KB")
    return res


def profile_of(path: Path, *, timeout_s: float = 60.0, mem_mb: int = 2048) -> list[str]:
    """Re-run one file under cProfile in a child: the functions it spent most time in (own time)."""
    prof = Path(str(path) + ".prof")
    pid = _fork(path, mem_mb, int(timeout_s) + 1, str(prof))
    t0 = time.monotonic()
    while True:
        done, _status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() - t0 > timeout_s:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return ["(profile timed out)"]
        time.sleep(0.01)
    for suffix in (".out", ".err"):
        with contextlib.suppress(FileNotFoundError):
            Path(str(path) + suffix).unlink()
    if not prof.exists():
        return []
    lines = prof.read_text().splitlines()
    prof.unlink()
    start = next((i for i, ln in enumerate(lines) if ln.strip().startswith("ncalls")), None)
    if start is None:
        return []
    return [" ".join(ln.split()) for ln in lines[start + 1 : start + 5] if ln.strip()]


def _rel(path: Path) -> str:
    for base in (ROOT.parent / "shared", ROOT):
        with contextlib.suppress(ValueError):
            return str(path.resolve().relative_to(base.resolve()))
    return path.name


# --- summary -----------------------------------------------------------------------------------------------------------


def _quantiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    v = sorted(values)

    def q(p: float) -> float:
        return v[min(len(v) - 1, round(p * (len(v) - 1)))]

    return {"min": v[0], "median": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": v[-1]}


def summarise(results: list[Result], *, seed: int, seconds: float) -> dict:
    """Counts per class, distributions, the slowest five and every non-ok/error result."""
    counts = {c: sum(r.cls == c for r in results) for c in CLASSES}
    slowest = sorted(results, key=lambda r: -r.cpu_s)[:5]
    return {
        "seed": seed,
        "mutants": len(results),
        "seconds": round(seconds, 1),
        "counts": counts,
        "cpu_s": _quantiles([r.cpu_s for r in results]),
        "wall_s": _quantiles([r.wall_s for r in results]),
        "peak_mb": _quantiles([r.peak_mb for r in results]),
        "json_kb": _quantiles([r.json_kb for r in results]),
        "over_budget": [asdict(r) for r in results if r.over_budget],
        "slowest": [asdict(r) for r in slowest],
        "bad": [asdict(r) for r in results if r.cls in ("crash", "hang", "memory")],
    }


def summary_text(s: dict) -> str:
    """The summary as a few readable lines."""

    def dist(name: str, unit: str) -> str:
        d = s[name]
        return f"{name:8s} " + "  ".join(f"{k} {v:g}{unit}" for k, v in d.items())

    lines = [
        f"fuzz seed {s['seed']}: {s['mutants']:,} mutants in {s['seconds']:,} s",
        "classes  " + "  ".join(f"{k} {v:,}" for k, v in s["counts"].items()),
    ]
    if s["mutants"]:
        lines += [dist("cpu_s", " s"), dist("wall_s", " s"), dist("peak_mb", " MB"), dist("json_kb", " KB")]
    lines.append(f"over budget ({TIME_BUDGET_S} s cpu, {MEMORY_BUDGET_MB} MB, {JSON_BUDGET_KB} KB json): "
                 f"{len(s['over_budget'])}")  # fmt: skip
    for r in s["over_budget"][:20]:
        lines.append(
            f"  #{r['index']} {r['seed_file']}: {'; '.join(r['over_budget'])} ({'; '.join(r['mutations'])})"
        )
    lines.append("slowest five (cpu s, wall s, peak MB, class, seed file, mutations, hottest functions):")
    for r in s["slowest"]:
        lines.append(
            f"  #{r['index']} {r['cpu_s']:.2f} s cpu, {r['wall_s']:.2f} s wall, {r['peak_mb']:.0f} MB, {r['cls']}, "
            f"{r['seed_file']}: {'; '.join(r['mutations'])}"
        )
        lines += [f"      {p}" for p in r.get("profile", [])[:3]]
    for r in s["bad"][:30]:
        lines.append(
            f"  {r['cls'].upper()} #{r['index']} {r['seed_file']} ({'; '.join(r['mutations'])}): {r['stderr']}"
        )
    return "\n".join(lines) + "\n"


def default_seeds(out: Path, corpus: Path = CORPUS) -> list[Path]:
    """The corpus TIFFs and the generated seeds (written under ``out/seeds``)."""
    return corpus_seeds(corpus) + make_generated_seeds(out / "seeds")


def fuzz(
    *,
    seed: int,
    count: int,
    out: Path,
    start: int = 0,
    jobs: int = 2,
    timeout_s: float = 300.0,
    cpu_s: int = 30,
    mem_mb: int = 2048,
    corpus: Path = CORPUS,
    keep: bool = False,
    profile_slowest: bool = True,
    progress: Callable[[int, Result], None] | None = None,
) -> dict:
    """A whole run: seeds, mutants ``start .. start + count - 1``, summary files in ``out``; returns the summary."""
    out.mkdir(parents=True, exist_ok=True)
    plan = Plan(default_seeds(out, corpus))
    t0 = time.monotonic()
    done: list[Result] = []

    def on_result(r: Result) -> None:
        done.append(r)
        if progress is not None:
            progress(len(done), r)
        if len(done) % 500 == 0:  # a partial summary, in case the run is stopped
            _write(
                out, summarise(sorted(done, key=lambda x: x.index), seed=seed, seconds=time.monotonic() - t0)
            )

    results = run(
        plan,
        seed=seed,
        indices=list(range(start, start + count)),
        out=out,
        jobs=jobs,
        timeout_s=timeout_s,
        cpu_s=cpu_s,
        mem_mb=mem_mb,
        keep=keep,
        on_result=on_result,
    )
    summary = summarise(results, seed=seed, seconds=time.monotonic() - t0)
    if profile_slowest:
        for r in summary["slowest"]:
            _src, data, _log = plan.mutant(seed, r["index"])
            path = out / f"profile-{r['index']}.tif"
            path.write_bytes(data)
            r["profile"] = profile_of(path, timeout_s=timeout_s, mem_mb=mem_mb)
            path.unlink()
    _write(out, summary)
    return summary


def _write(out: Path, summary: dict) -> None:
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    (out / "summary.txt").write_text(summary_text(summary))


def main(argv: list[str] | None = None) -> int:
    """Command line; exit status 1 when a mutant crashed, hung or ran out of memory."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--start", type=int, default=0, help="first mutant index (to continue a run)")
    p.add_argument("--only", type=int, help="run this one mutant index (kept in --out)")
    p.add_argument("--out", type=Path, default=ROOT / "test-output" / "fuzz")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--cpu", type=int, default=30, help="CPU seconds per mutant before it counts as a hang")
    p.add_argument(
        "--timeout", type=float, default=300, help="wall seconds per mutant before it counts as a hang"
    )
    p.add_argument("--mem-mb", type=int, default=2048, help="address-space limit per mutant (RLIMIT_AS)")
    p.add_argument("--corpus", type=Path, default=CORPUS)
    p.add_argument("--keep", action="store_true", help="keep every mutant in --out")
    p.add_argument("--no-profile", action="store_true", help="do not re-run the slowest five under cProfile")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    if args.only is not None:
        args.start, args.count, args.keep = args.only, 1, True

    def progress(n: int, r: Result) -> None:
        if not args.quiet and (n % 250 == 0 or r.cls in ("crash", "hang", "memory")):
            print(f"{n:,}/{args.count:,} #{r.index} {r.cls} {r.cpu_s:.2f} s {r.stderr[:120]}", flush=True)

    summary = fuzz(
        seed=args.seed,
        count=args.count,
        out=args.out,
        start=args.start,
        jobs=args.jobs,
        timeout_s=args.timeout,
        cpu_s=args.cpu,
        mem_mb=args.mem_mb,
        corpus=args.corpus,
        keep=args.keep,
        profile_slowest=not args.no_profile,
        progress=progress,
    )
    print(summary_text(summary), end="")
    return 1 if summary["bad"] else 0


def iter_mutants(seed: int, count: int, seeds: list[Path]) -> Iterator[tuple[int, bytes, list[str]]]:
    """Mutants ``0 .. count - 1`` of run ``seed`` over ``seeds`` (for tests and one-off scripts)."""
    plan = Plan(seeds)
    for i in range(count):
        _src, data, log = plan.mutant(seed, i)
        yield i, data, log


if __name__ == "__main__":
    sys.exit(main())
