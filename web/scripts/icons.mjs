// Draws the app's PNG icons (what a phone's home screen and the manifest need) from the
// favicon's design — a blue rounded square with a white trace — into dist/: icon-192.png,
// icon-512.png, apple-touch-icon.png (180). Run by `npm run build`; no image tool needed.
import { writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

const BG = [0x1f, 0x5f, 0xa8];
const TRACE = [[4, 20], [9, 20], [12, 11], [16, 25], [20, 7], [23, 20], [28, 20]];

function crc32(buf) {
  let c;
  let crc = 0xffffffff;
  for (const b of buf) {
    c = (crc ^ b) & 0xff;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crc = (crc >>> 8) ^ c;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

function distToSegment(px, py, [ax, ay], [bx, by]) {
  const dx = bx - ax;
  const dy = by - ay;
  const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

function icon(size) {
  const s = size / 32;
  const raw = Buffer.alloc((size * 4 + 1) * size);
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0; // filter: none
    for (let x = 0; x < size; x++) {
      // Centre of the pixel in the 32-unit design space.
      const u = (x + 0.5) / s;
      const v = (y + 0.5) / s;
      // Rounded square (radius 6): coverage by distance to the rounded edge.
      const qx = Math.max(Math.abs(u - 16) - 10, 0);
      const qy = Math.max(Math.abs(v - 16) - 10, 0);
      const edge = Math.hypot(qx, qy) - 6;
      const inside = Math.max(0, Math.min(1, 0.5 - edge * s));
      let d = Infinity;
      for (let i = 1; i < TRACE.length; i++) d = Math.min(d, distToSegment(u, v, TRACE[i - 1], TRACE[i]));
      const line = Math.max(0, Math.min(1, (1.25 - d) * s + 0.5));
      const o = y * (size * 4 + 1) + 1 + x * 4;
      for (let c = 0; c < 3; c++) raw[o + c] = Math.round(BG[c] * (1 - line) + 255 * line);
      raw[o + 3] = Math.round(255 * inside);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const out = new URL('../dist/', import.meta.url).pathname;
for (const [name, size] of [['icon-192.png', 192], ['icon-512.png', 512], ['apple-touch-icon.png', 180]]) {
  writeFileSync(out + name, icon(size));
}
