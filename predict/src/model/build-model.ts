import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBorderModel } from './border-model.js';
import { buildUpscaleModel } from './graphcut/upscale-model.js';
import { BUILT_IN_MODEL_FILES } from './presets.js';

/** `npm run model:build`: writes the built-in models' ONNX files (predict/models/) from their builders. */
function main(): void {
  const builders: Record<string, () => Uint8Array> = { 'cutout-border': () => buildBorderModel(), 'cutout-graphcut': buildUpscaleModel };
  for (const [preset, build] of Object.entries(builders)) {
    const target = fileURLToPath(BUILT_IN_MODEL_FILES[preset]!);
    const bytes = build();
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, bytes);
    process.stdout.write(`wrote ${target} (${bytes.length} bytes)\n`);
  }
}

main();
