// Reads {"dtype": "uint16", "arrays": [[...], ...]} on stdin; prints Viv's getChannelStats of each array as JSON.
import { getChannelStats } from "@vivjs/loaders";

const TYPED = {
  uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array, int8: Int8Array, int16: Int16Array,
  int32: Int32Array, float32: Float32Array, float64: Float64Array,
};
let text = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { text += chunk; });
process.stdin.on("end", () => {
  const jobs = JSON.parse(text);
  const out = jobs.map(({ dtype, values }) => {
    const s = getChannelStats(TYPED[dtype].from(values));
    return { domain: s.domain, contrastLimits: s.contrastLimits, mean: s.mean };
  });
  process.stdout.write(JSON.stringify(out));
});
