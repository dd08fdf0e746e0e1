/**
 * Test-only: images drawn pixel by pixel so the true foreground mask is known exactly.
 * (Drawing the scene is test setup; the mask under test always comes from the model.)
 */
export type Rgb = readonly [number, number, number];
export type Shape = (x: number, y: number) => boolean;
export type Background = (x: number, y: number) => Rgb;

export interface Scene {
  width: number;
  height: number;
  background: Background;
  shape: Shape;
  colour: Rgb;
}

export interface RenderedScene {
  /** Interleaved 8-bit RGB. */
  rgb: Buffer;
  /** 1 where the shape is, 0 elsewhere. */
  mask: Uint8Array;
}

export const circle = (cx: number, cy: number, r: number): Shape => (x, y) => (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
export const rectangle = (x0: number, y0: number, x1: number, y1: number): Shape => (x, y) => x >= x0 && x < x1 && y >= y0 && y < y1;

/** Even-odd rule point-in-polygon. */
export const polygon =
  (points: readonly (readonly [number, number])[]): Shape =>
  (x, y) => {
    let inside = false;
    for (let i = 0, j = points.length - 1; i < points.length; j = i++) {
      const [xi, yi] = points[i]!;
      const [xj, yj] = points[j]!;
      if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  };

export const plain = (colour: Rgb): Background => () => colour;

function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [0, 1, 2].map((c) => Math.round(a[c]! + (b[c]! - a[c]!) * t)) as unknown as Rgb;
}

/** Linear gradient from `from` at the start of the axis to `to` at its end. */
export const gradient = (from: Rgb, to: Rgb, width: number, height: number, direction: 'horizontal' | 'vertical' | 'diagonal'): Background => {
  return (x, y) => {
    const u = x / (width - 1);
    const v = y / (height - 1);
    const t = direction === 'horizontal' ? u : direction === 'vertical' ? v : (u + v) / 2;
    return mix(from, to, t);
  };
};

export function renderScene(scene: Scene): RenderedScene {
  const { width, height } = scene;
  const rgb = Buffer.alloc(width * height * 3);
  const mask = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = y * width + x;
      const inside = scene.shape(x + 0.5, y + 0.5);
      mask[p] = inside ? 1 : 0;
      const colour = inside ? scene.colour : scene.background(x, y);
      rgb.set(colour, p * 3);
    }
  }
  return { rgb, mask };
}

/** Intersection over union of (alpha ≥ threshold) and the known mask. */
export function maskIou(alpha: Uint8Array, mask: Uint8Array, threshold = 128): number {
  let both = 0;
  let either = 0;
  for (let i = 0; i < mask.length; i++) {
    const predicted = alpha[i]! >= threshold;
    const truth = mask[i] === 1;
    if (predicted && truth) both++;
    if (predicted || truth) either++;
  }
  return either === 0 ? 1 : both / either;
}

/** The five shapes every model of ours must cut well (IoU ≥ 0.9): plain and gradient backgrounds, several sizes. */
export const SYNTHETIC_SCENES: readonly (Scene & { label: string })[] = [
  { label: 'red circle on white, 400×300', width: 400, height: 300, background: plain([255, 255, 255]), shape: circle(200, 150, 90), colour: [220, 30, 30] },
  { label: 'blue rectangle on grey-green, 320×320', width: 320, height: 320, background: plain([120, 150, 120]), shape: rectangle(60, 90, 250, 230), colour: [20, 40, 200] },
  {
    label: 'dark triangle on a horizontal gradient, 500×260',
    width: 500,
    height: 260,
    background: gradient([180, 220, 250], [250, 240, 170], 500, 260, 'horizontal'),
    shape: polygon([[250, 30], [400, 220], [110, 200]]),
    colour: [40, 30, 60],
  },
  {
    label: 'orange circle on a vertical gradient, 240×400',
    width: 240,
    height: 400,
    background: gradient([30, 60, 120], [140, 170, 230], 240, 400, 'vertical'),
    shape: circle(120, 210, 70),
    colour: [250, 150, 20],
  },
  {
    label: 'green pentagon on a diagonal gradient, 641×479',
    width: 641,
    height: 479,
    background: gradient([240, 240, 240], [120, 120, 140], 641, 479, 'diagonal'),
    shape: polygon([[320, 80], [470, 200], [420, 380], [220, 380], [170, 200]]),
    colour: [30, 160, 60],
  },
];
