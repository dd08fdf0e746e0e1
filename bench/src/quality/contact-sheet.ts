import sharp, { type OverlayOptions } from 'sharp';

const ROW_HEIGHT = 240;
const GAP = 8;
const LABEL_HEIGHT = 22;

/** A grey checkerboard, so transparent parts show as such and not as white or black. */
async function checkerboard(width: number, height: number, square = 12): Promise<Buffer> {
  const rgb = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const light = (Math.floor(x / square) + Math.floor(y / square)) % 2 === 0;
      rgb.fill(light ? 230 : 180, (y * width + x) * 3, (y * width + x) * 3 + 3);
    }
  }
  return sharp(rgb, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

async function overChecker(png: Buffer, width: number, height: number): Promise<Buffer> {
  const scaled = await sharp(png).resize(width, height, { fit: 'fill' }).png().toBuffer();
  return sharp(await checkerboard(width, height)).composite([{ input: scaled }]).png().toBuffer();
}

function label(text: string, width: number): Buffer {
  const escaped = text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${LABEL_HEIGHT}"><text x="4" y="16" font-family="sans-serif" font-size="14" fill="#111">${escaped}</text></svg>`,
  );
}

export interface SheetRow {
  caption: string;
  cutout: Buffer;
  reference: Buffer;
  width: number;
  height: number;
}

/** One row per photo: its cutout over a checkerboard, then the reference cutout, each captioned. */
export async function contactSheet(rows: readonly SheetRow[], modelName: string): Promise<Buffer> {
  const cells = rows.map((r) => ({ ...r, w: Math.round((r.width / r.height) * ROW_HEIGHT) }));
  const cellWidth = Math.max(...cells.map((c) => c.w), 200);
  const width = GAP + 2 * (cellWidth + GAP);
  const rowStride = LABEL_HEIGHT + ROW_HEIGHT + GAP;
  const height = GAP + cells.length * rowStride;
  const layers: OverlayOptions[] = [];
  for (const [i, c] of cells.entries()) {
    const top = GAP + i * rowStride;
    layers.push({ input: label(`${c.caption}  (left: ${modelName}, right: reference u2net)`, width), top, left: GAP });
    layers.push({ input: await overChecker(c.cutout, c.w, ROW_HEIGHT), top: top + LABEL_HEIGHT, left: GAP });
    layers.push({ input: await overChecker(c.reference, c.w, ROW_HEIGHT), top: top + LABEL_HEIGHT, left: GAP + cellWidth + GAP });
  }
  return sharp({ create: { width, height, channels: 3, background: { r: 255, g: 255, b: 255 } } })
    .composite(layers)
    .png()
    .toBuffer();
}
