import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '@cutout/config';
import { loadModel } from '@cutout/predict';
import { machineFacts } from '../machine.js';
import { contactSheet } from './contact-sheet.js';
import { measurePhoto, pairedPhotos, type PhotoQuality } from './measure.js';
import { parseQualityArgs, QUALITY_USAGE, type QualityOptions } from './args.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));
const DEFAULT_OUT = fileURLToPath(new URL('../../results/', import.meta.url));

const r = (v: number, digits = 3) => Math.round(v * 10 ** digits) / 10 ** digits;

function markdown(report: Omit<QualityReport, 'photos'> & { photos: Omit<PhotoQuality, 'png' | 'referencePng'>[] }, sheet: string): string {
  const rows = report.photos.map(
    (p) => `| ${p.photo} | ${p.width}×${p.height} | ${p.iou.toFixed(3)} | ${p.meanAbsDiff.toFixed(1)} | ${Math.round(p.wallMs)} | ${Math.round(p.cpuMs)} | ${Object.entries(p.stages).map(([k, v]) => `${k} ${Math.round(v)}`).join(', ')} |`,
  );
  return [
    `# Quality: ${report.model} against rembg's u2net outputs`,
    '',
    `${report.date}, ${report.machine.cores} cores (${report.machine.cpuModel}), Node ${report.machine.node}, onnxruntime intra-op threads: ${report.intraOpThreads || 'default'}.`,
    `References: \`test/fixtures/reference/u2net/\` (rembg's own example outputs; not ground truth). IoU of alpha ≥ 128; mean |Δalpha| in levels of 0..255.`,
    `Times: fastest of ${report.runs} warm runs of the whole \`removeBackground\` (decode to PNG); CPU = user + system of all threads.`,
    '',
    '| photo | size | IoU | mean abs Δ | wall ms | CPU ms | stages ms |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `**Mean IoU ${report.meanIou.toFixed(3)}**, worst ${report.worstIou.photo} ${report.worstIou.iou.toFixed(3)}; mean |Δalpha| ${report.meanAbsDiff.toFixed(1)}, worst ${report.worstAbsDiff.photo} ${report.worstAbsDiff.meanAbsDiff.toFixed(1)}.`,
    '',
    `Contact sheet: [${sheet}](${sheet}) (each cutout over a checkerboard, beside the reference).`,
    '',
  ].join('\n');
}

export interface QualityReport {
  date: string;
  model: string;
  runs: number;
  intraOpThreads: number;
  machine: ReturnType<typeof machineFacts>;
  photos: PhotoQuality[];
  meanIou: number;
  worstIou: { photo: string; iou: number };
  meanAbsDiff: number;
  worstAbsDiff: { photo: string; meanAbsDiff: number };
}

async function run(options: QualityOptions): Promise<number> {
  const config = loadConfig(process.env);
  const modelValue = options.model ?? config.model;
  const model = await loadModel(modelValue, { modelsDir: config.modelsDir, intraOpThreads: options.threads, interOpThreads: 1 });
  const photos: PhotoQuality[] = [];
  try {
    for (const paths of pairedPhotos(options.images ?? join(FIXTURES, 'images'), options.references ?? join(FIXTURES, 'reference', 'u2net'))) {
      const q = await measurePhoto(model, paths, options.runs);
      process.stdout.write(`${q.photo.padEnd(14)} IoU ${q.iou.toFixed(3)}  mean |Δ| ${q.meanAbsDiff.toFixed(1).padStart(5)}  ${Math.round(q.wallMs)} ms wall, ${Math.round(q.cpuMs)} ms CPU\n`);
      photos.push(q);
    }
  } finally {
    await model.close();
  }
  if (photos.length === 0) throw new Error('no photos with a reference to compare');
  const mean = (f: (p: PhotoQuality) => number) => photos.reduce((s, p) => s + f(p), 0) / photos.length;
  const worstIou = photos.reduce((a, b) => (b.iou < a.iou ? b : a));
  const worstDiff = photos.reduce((a, b) => (b.meanAbsDiff > a.meanAbsDiff ? b : a));
  const report: QualityReport = {
    date: new Date().toISOString().slice(0, 10),
    model: model.name,
    runs: options.runs,
    intraOpThreads: options.threads,
    machine: machineFacts(),
    photos,
    meanIou: mean((p) => p.iou),
    worstIou: { photo: worstIou.photo, iou: worstIou.iou },
    meanAbsDiff: mean((p) => p.meanAbsDiff),
    worstAbsDiff: { photo: worstDiff.photo, meanAbsDiff: worstDiff.meanAbsDiff },
  };
  const outDir = options.out ?? DEFAULT_OUT;
  mkdirSync(outDir, { recursive: true });
  const base = `quality-${report.model}-${report.date}`;
  const sheet = await contactSheet(
    photos.map((p) => ({ caption: `${p.photo}: IoU ${p.iou.toFixed(3)}, mean |Δ| ${p.meanAbsDiff.toFixed(1)}`, cutout: p.png, reference: p.referencePng, width: p.width, height: p.height })),
    report.model,
  );
  writeFileSync(join(outDir, `${base}.png`), sheet);
  const plain = { ...report, photos: photos.map(({ png: _png, referencePng: _ref, ...rest }) => ({ ...rest, iou: r(rest.iou, 4), meanAbsDiff: r(rest.meanAbsDiff, 2), wallMs: r(rest.wallMs, 1), cpuMs: r(rest.cpuMs, 1) })) };
  writeFileSync(join(outDir, `${base}.json`), `${JSON.stringify(plain, null, 2)}\n`);
  writeFileSync(join(outDir, `${base}.md`), markdown(plain, `${base}.png`));
  process.stdout.write(`\nmean IoU ${report.meanIou.toFixed(3)} (worst ${worstIou.photo} ${worstIou.iou.toFixed(3)}); wrote ${join(outDir, base)}.{md,json,png}\n`);
  return 0;
}

const parsed = parseQualityArgs(process.argv.slice(2));
if (parsed === 'help') process.stdout.write(QUALITY_USAGE);
else process.exitCode = await run(parsed);
