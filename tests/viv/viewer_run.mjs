// Opens files the way Avivator (Viv 0.21, geotiff.js) does and prints one JSON outcome per file.
// stdin: [{"name": ..., "url": ..., "offsets": true|false}]; stdout: a JSON array, one object per input, in order.
// For each URL: the OME-TIFF route the portal takes (fetch <name>.offsets.json when the URL names an OME-TIFF,
// loadOmeTiff with images "all", the image count Avivator computes, channel statistics on the lowest level unless
// Avivator guesses RGB, tile (0, 0) of the highest and lowest level for every channel), and the route Avivator's
// URL test picks (url.includes('ome.tif'), '.companion.ome', else a plain TIFF opened as a multi-TIFF).
import { getChannelStats, loadMultiTiff, loadOmeTiff } from "@vivjs/loaders";
import { fromUrl } from "geotiff";
import { DOMParser as XmlDomParser } from "@xmldom/xmldom";

// Node has no DOMParser; Viv's OME-XML reader calls `new DOMParser().parseFromString(text, "application/xml")`.
// A browser returns a <parsererror> document for malformed XML, which then fails Viv's schema: here it throws.
globalThis.DOMParser = class DOMParser {
  parseFromString(text, type) {
    const fail = (msg) => {
      throw new Error(`XML parse error: ${String(msg).split("\n")[0]}`);
    };
    const parser = new XmlDomParser({ errorHandler: { warning: () => {}, error: fail, fatalError: fail } });
    return parser.parseFromString(text, type);
  }
};

const PER_FILE_MS = 30000;
const MAX_CHANNELS = 16;

function avivatorRoute(url) {
  if (url.includes("ome.tiff") || url.includes("ome.tif") || url.includes(".companion.ome")) return "ome-tiff";
  const lower = url.toLowerCase();
  return lower.includes(".tiff") || lower.includes(".tif") ? "multi-tiff" : "zarr";
}

function guessRgb(metadata) {
  const px = metadata.Pixels;
  const n = px.Channels.length;
  const spp = px.Channels[0]?.SamplesPerPixel;
  return spp === 3 || (n === 3 && px.Type === "uint8") || (px.SizeC === 3 && n === 1 && Boolean(px.Interleaved));
}

function isInterleaved(shape) {
  const last = shape[shape.length - 1];
  return last === 3 || last === 4;
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout: ${what} took more than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function errorText(err) {
  if (Array.isArray(err?.issues)) {
    const issues = err.issues.slice(0, 3).map((i) => `${(i.path ?? []).join(".")}: ${i.message}`);
    return `ZodError: ${issues.join("; ")}`.slice(0, 300);
  }
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return text.split("\n")[0].slice(0, 300);
}

async function offsetsFor(url) {
  if (!url.includes("ome.tif") || url.includes("companion.ome")) return undefined;
  const res = await fetch(url.replace(/ome\.tif(f?)/gi, "offsets.json"));
  return res.status === 200 ? await res.json() : undefined;
}

// Wrong pixels without an error: decoded data of another type than the loader declares, or another size than the
// raster it says it returned (the image then shows garbage or is cut).
function checkPixels(out, where, raster, source, wholeLevel = false) {
  const declared = `${source.dtype}Array`;
  const got = raster.data?.constructor?.name;
  const problems = (out.wrong_pixels ??= []);
  if (got !== declared && problems.length < 4) problems.push(`${where}: ${got} data for dtype ${source.dtype}`);
  const perPixel = isInterleaved(source.shape) ? source.shape[source.shape.length - 1] : 1;
  const expected = raster.width * raster.height * perPixel;
  if (raster.data && raster.data.length !== expected && problems.length < 4) {
    problems.push(`${where}: ${raster.data.length} values for ${raster.width}x${raster.height}`);
  }
  if (wholeLevel) {
    const [h, w] = source.shape.slice(perPixel > 1 ? -3 : -2);
    if (raster.width !== w || raster.height !== h) {
      const text = `${where}: a ${raster.width}x${raster.height} raster for a level declared ${w}x${h}`;
      // level 0 has the XML's size: a mismatch there is garbage; lower levels are placed as size >> level
      if (wholeLevel === "level0") problems.push(text);
      else out.level_mismatch = text;
    }
  }
  if (!problems.length) delete out.wrong_pixels;
}

async function omeRoute(url, out) {
  out.stage = "offsets";
  const offsets = await offsetsFor(url);
  out.offsets_used = offsets !== undefined;
  out.stage = "load";
  const images = await loadOmeTiff(url, { offsets, images: "all", pool: false });
  out.images = images.length;
  const { data, metadata } = images[0];
  out.levels = data.length;
  out.shapes = data.map((d) => d.shape);
  out.labels = data[0].labels;
  out.tile_size = data[0].tileSize;
  out.dtype = data[0].dtype;
  const shape = data[0].shape;
  const labels = data[0].labels;
  const size = (axis) => (labels.includes(axis) ? shape[labels.indexOf(axis)] : 1);
  out.channels = size("c");
  out.xml_size_c = metadata.Pixels.SizeC;
  out.xml_channels = metadata.Pixels.Channels.length;
  out.rgb = guessRgb(metadata);
  out.interleaved = isInterleaved(shape);
  out.stage = "image-count";
  await data[0]._indexer({ c: 0, z: 0, t: 0 });
  const globalSel = { z: Math.floor(size("z") / 2), t: Math.floor(size("t") / 2) };
  const channels = out.interleaved ? [0] : [...Array(Math.min(out.channels, MAX_CHANNELS)).keys()];
  const lowest = data[data.length - 1];
  if (!out.rgb) {
    out.stage = "stats";
    out.stats = [];
    for (const c of channels.slice(0, 4)) {
      const raster = await lowest.getRaster({ selection: { ...globalSel, c } });
      checkPixels(out, `lowest level c=${c}`, raster, lowest, data.length === 1 ? "level0" : "lower");
      const s = getChannelStats(raster.data);
      out.stats.push({ c, domain: s.domain, contrastLimits: s.contrastLimits });
    }
  }
  out.stage = "tile";
  out.tiles = [];
  for (const level of [0, data.length - 1]) {
    for (const c of channels) {
      const tile = await data[level].getTile({ x: 0, y: 0, selection: { ...globalSel, c } });
      checkPixels(out, `tile (0, 0) of level ${level} c=${c}`, tile, data[level]);
      out.tiles.push({ level, c, width: tile.width, height: tile.height });
    }
  }
  delete out.stage;
}

async function multiTiffRoute(url) {
  const tiff = await fromUrl(url);
  const count = await tiff.getImageCount();
  const selections = [...Array(count).keys()].map((c) => ({ c, z: 0, t: 0 }));
  const source = await loadMultiTiff([[selections, url]], { images: "all", pool: false });
  const { data } = Array.isArray(source) ? source[0] : source;
  const tile = await data[0].getTile({ x: 0, y: 0, selection: { c: 0, z: 0, t: 0 } });
  return { ok: true, channels: count, shape: data[0].shape, tile: [tile.width, tile.height] };
}

async function run(job) {
  const out = { name: job.name, route: avivatorRoute(job.url) };
  try {
    await withTimeout(omeRoute(job.url, out), PER_FILE_MS, "the OME-TIFF route");
    out.ok = true;
  } catch (err) {
    out.ok = false;
    out.error = errorText(err);
  }
  if (out.route === "multi-tiff") {
    try {
      out.multi_tiff = await withTimeout(multiTiffRoute(job.url), PER_FILE_MS, "the multi-TIFF route");
    } catch (err) {
      out.multi_tiff = { ok: false, error: errorText(err) };
    }
  }
  return out;
}

process.on("unhandledRejection", () => {}); // a timed-out read may reject later; its file already has its outcome

let text = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  text += chunk;
});
process.stdin.on("end", async () => {
  const results = [];
  for (const job of JSON.parse(text)) results.push(await run(job));
  process.stdout.write(JSON.stringify(results));
  process.exit(0);
});
