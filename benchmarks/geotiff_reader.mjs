// Reads a remote OME-TIFF with geotiff.js, the reader Viv uses, and prints what it got as one JSON object.
//
//   node benchmarks/geotiff_reader.mjs MODE URL [NODE_MODULES]
//
// MODE "viv": what Viv 0.21 does when it opens an OME-TIFF: `loadOmeTiff(url, { images: "all" })` from
//   @vivjs/loaders (as Avivator calls it, without the offsets.json side file): IFD 0 with its OME-XML, parsed.
// MODE "structure": every IFD, as our reader reads it: the top-level chain with `requestIFD(i)` (what
//   `getImage(i)` runs; geotiff.js can only walk the chain one IFD after the other) and, as soon as an IFD is parsed,
//   the IFDs in its SubIFDs tag (330) with `parseFileDirectoryAt(offset)` (what Viv's pyramid indexer does for a
//   level), all in flight together. geotiff.js reads every tag value of an IFD while parsing it, the OME-XML too.
//
// Both modes open the file as Viv does: `fromUrl(url, { cacheSize: Infinity })`, which in Node 18+ is Node's own
// fetch (`makeRemoteSource` picks `FetchClient` when `fetch` exists) behind a `BlockedSource` of 64 KiB blocks (its
// default block size); one request per run of adjacent missing blocks, requests started in the same tick merged.
//
// The packages come from NODE_MODULES (default: tests/viv/node_modules next to this folder), installed from the
// package-lock by `cd tests/viv && npm ci`. Prints {"ifds", "xml_bytes", "seconds", "error"}; "ifds" counts the
// distinct IFDs geotiff.js parsed, "xml_bytes" the UTF-8 bytes of IFD 0's ImageDescription (its NUL included).
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** The ES module entry of the package installed in `modules` (its exports' "import", else module, else main). */
function entry(modules, name) {
  const dir = path.join(modules, name);
  const pkg = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8"));
  const dot = typeof pkg.exports === "object" ? pkg.exports["."] : undefined;
  const file = (typeof dot === "object" ? dot.import ?? dot.default : dot) ?? pkg.module ?? pkg.main;
  return pathToFileURL(path.join(dir, file)).href;
}

/** Node has no DOMParser; Viv's OME-XML reader needs one: @xmldom/xmldom stands in, as in tests/viv. */
function installDomParser(xmldom) {
  const XmlDomParser = xmldom.DOMParser ?? xmldom.default.DOMParser;
  globalThis.DOMParser = class DOMParser {
    parseFromString(text, type) {
      const fail = (msg) => {
        throw new Error(`XML parse error: ${String(msg).split("\n")[0]}`);
      };
      return new XmlDomParser({ errorHandler: { warning: () => {}, error: fail, fatalError: fail } })
        .parseFromString(text, type);
    }
  };
}

/** Every IFD: the chain one by one, each IFD's SubIFDs started as soon as their parent is parsed. */
async function readStructure(tiff) {
  const pending = [];
  const seen = new Set();
  const subIfds = (ifd) => {
    for (const offset of ifd.fileDirectory.SubIFDs ?? []) {
      if (seen.has(offset)) continue;
      seen.add(offset);
      pending.push(tiff.parseFileDirectoryAt(offset).then(subIfds));
    }
  };
  for (let index = 0; ; index++) {
    const ifd = await tiff.requestIFD(index);
    subIfds(ifd);
    if (!ifd.nextIFDByteOffset) break;
  }
  while (pending.length) await pending.shift();
}

async function main() {
  const [mode, url, modulesArg] = process.argv.slice(2);
  if (!["viv", "structure"].includes(mode) || !url) {
    process.stderr.write("usage: node geotiff_reader.mjs viv|structure URL [NODE_MODULES]\n");
    return 2;
  }
  const modules = path.resolve(modulesArg ?? path.join(HERE, "..", "tests", "viv", "node_modules"));
  const geotiff = await import(entry(modules, "geotiff"));
  const GeoTIFF = geotiff.GeoTIFF;
  const parsed = new Set();
  let description; // IFD 0's ImageDescription, as geotiff.js decoded it
  const parse = GeoTIFF.prototype.parseFileDirectoryAt;
  GeoTIFF.prototype.parseFileDirectoryAt = function countedParse(offset) {
    return parse.call(this, offset).then((ifd) => {
      parsed.add(offset);
      if (offset === this.firstIFDOffset) description = ifd.fileDirectory.ImageDescription;
      return ifd;
    });
  };

  const out = { ifds: 0, xml_bytes: 0, seconds: 0, error: null };
  let t0 = performance.now();
  try {
    if (mode === "viv") {
      installDomParser(await import(entry(modules, "@xmldom/xmldom")));
      const { loadOmeTiff } = await import(entry(modules, "@vivjs/loaders"));
      t0 = performance.now();
      const images = await loadOmeTiff(url, { images: "all" });
      if (!images[0]?.data?.length) throw new Error("loadOmeTiff returned no image");
    } else {
      await readStructure(await geotiff.fromUrl(url, { cacheSize: Number.POSITIVE_INFINITY }));
    }
  } catch (err) {
    out.error = err instanceof Error ? `${err.name}: ${err.message}`.split("\n")[0].slice(0, 200) : String(err);
  }
  out.seconds = (performance.now() - t0) / 1000;
  if (typeof description === "string") out.xml_bytes = Buffer.byteLength(description, "utf8");
  out.ifds = parsed.size;
  process.stdout.write(`${JSON.stringify(out)}\n`);
  return 0;
}

process.exitCode = await main();
