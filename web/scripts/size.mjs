// Prints the built console's JavaScript and CSS, raw and gzip-compressed (what a browser
// downloads): `npm run size` after `npm run build`. `--json` prints one JSON object.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const dir = new URL('../dist/assets/', import.meta.url).pathname;
let files;
try {
  files = readdirSync(dir).filter((f) => /\.(js|css)$/.test(f));
} catch {
  console.error(`no ${dir}: run \`npm run build\` first`);
  process.exit(1);
}
const rows = files.map((f) => {
  const data = readFileSync(join(dir, f));
  return { file: f, bytes: statSync(join(dir, f)).size, gzip: gzipSync(data, { level: 9 }).length };
});
const total = rows.reduce((a, r) => ({ bytes: a.bytes + r.bytes, gzip: a.gzip + r.gzip }), { bytes: 0, gzip: 0 });
if (process.argv.includes('--json')) {
  console.log(JSON.stringify({ files: rows, total }));
} else {
  for (const r of rows) console.log(`${r.file.padEnd(40)} ${String(r.bytes).padStart(8)} B  ${String(r.gzip).padStart(7)} B gzip`);
  console.log(`${'total JS + CSS'.padEnd(40)} ${String(total.bytes).padStart(8)} B  ${String(total.gzip).padStart(7)} B gzip (${(total.gzip / 1024).toFixed(1)} KiB)`);
}
