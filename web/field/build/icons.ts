import { crc32, deflateSync } from "node:zlib";

/**
 * The app icon, drawn at build time as a PNG (no image files in the repository, no image library): a
 * white pulse ring and dot on the brand blue. Everything sits within the central 80 %, so the same image
 * works as a maskable icon.
 */
const BRAND: [number, number, number] = [0x0b, 0x3d, 0x91];
const WHITE: [number, number, number] = [0xff, 0xff, 0xff];

function coverage(x: number, y: number): number {
  // Unit square coordinates centred on 0: a ring (0.22..0.3) and a dot (< 0.11).
  const r = Math.hypot(x, y);
  return (r >= 0.22 && r <= 0.3) || r < 0.11 ? 1 : 0;
}

export function iconPng(size: number): Buffer {
  const SS = 4; // supersampling per axis, for smooth edges
  const raw = Buffer.alloc(size * (size * 3 + 1));
  for (let py = 0; py < size; py++) {
    const row = py * (size * 3 + 1);
    raw[row] = 0; // filter: none
    for (let px = 0; px < size; px++) {
      let hits = 0;
      for (let sy = 0; sy < SS; sy++) {
        for (let sx = 0; sx < SS; sx++) {
          hits += coverage((px + (sx + 0.5) / SS) / size - 0.5, (py + (sy + 0.5) / SS) / size - 0.5);
        }
      }
      const a = hits / (SS * SS);
      for (let c = 0; c < 3; c++) raw[row + 1 + px * 3 + c] = Math.round(BRAND[c]! * (1 - a) + WHITE[c]! * a);
    }
  }
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // colour type: RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(raw, { level: 9 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}
