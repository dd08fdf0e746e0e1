import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBorderModel } from './border-model.js';
import { BUILT_IN_MODEL_FILES } from './presets.js';

/** `npm run model:build`: writes predict/models/cutout-border.onnx from the defaults in border-model.ts. */
function main(): void {
  const target = fileURLToPath(BUILT_IN_MODEL_FILES['cutout-border']!);
  const bytes = buildBorderModel();
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, bytes);
  process.stdout.write(`wrote ${target} (${bytes.length} bytes)\n`);
}

main();
