import { grabCut } from './grabcut.js';
import { guidedCoefficients } from './guided-filter.js';

/**
 * Runs the cut once on a made-up grid at load time. The first cut of a process runs in V8's
 * interpreter and takes several times longer than later ones (1.8 s against 0.25 s measured); doing
 * it while /health still says "loading" keeps that cost off the first request.
 */
export function warmUpGraphcut(longSide: number): void {
  const width = longSide;
  const height = Math.round(longSide * 0.75);
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inside = (x - width / 2) ** 2 / (width / 4) ** 2 + (y - height / 2) ** 2 / (height / 4) ** 2 < 1;
      // A textured disc on a gradient, so every part of the cut (several components, real flow) runs.
      const noise = (x * 7 + y * 13) % 23;
      rgb.set(inside ? [200 - noise, 60 + noise, 40] : [40 + x / 4, 90 + noise, 160 - y / 3], (y * width + x) * 3);
    }
  }
  const labels = grabCut(rgb, width, height);
  guidedCoefficients(rgb, labels, width, height);
}
