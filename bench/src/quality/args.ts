export interface QualityOptions {
  /** A MODEL value; default: MODEL from the environment (config). */
  model?: string;
  images?: string;
  references?: string;
  out?: string;
  /** Timed runs per photo after the warm-up. */
  runs: number;
  /** onnxruntime intra-op threads; 1 measures the cost on one core. */
  threads: number;
}

export const QUALITY_USAGE = `Usage: npm run bench:quality -- [options]

Cuts the test photos with one model and compares each mask with rembg's u2net output.

  --model VALUE      a MODEL value (preset, path, or preset:path); default MODEL, else cutout-graphcut
  --images DIR       photos (default test/fixtures/images)
  --references DIR   <name>.out.png references (default test/fixtures/reference/u2net)
  --out DIR          where the report goes (default bench/results)
  --runs N           timed runs per photo after a warm-up (default 3)
  --threads N        onnxruntime intra-op threads (default 1: the cost on one core)
`;

export function parseQualityArgs(argv: readonly string[]): QualityOptions | 'help' {
  const options: QualityOptions = { runs: 3, threads: 1 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '--help' || flag === '-h') return 'help';
    const value = argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    switch (flag) {
      case '--model':
        options.model = value;
        break;
      case '--images':
        options.images = value;
        break;
      case '--references':
        options.references = value;
        break;
      case '--out':
        options.out = value;
        break;
      case '--runs':
      case '--threads': {
        const n = Number(value);
        if (!Number.isInteger(n) || n < (flag === '--runs' ? 1 : 0)) throw new Error(`${flag} takes a whole number`);
        if (flag === '--runs') options.runs = n;
        else options.threads = n;
        break;
      }
      default:
        throw new Error(`unknown option ${flag}; see --help`);
    }
  }
  return options;
}
