import { UsageError } from '../cli/flags.js';

export { UsageError };

export type ModelsCommand =
  | { readonly command: 'help' }
  | { readonly command: 'list'; readonly dir?: string }
  | { readonly command: 'verify'; readonly dir?: string; readonly presets: readonly string[] }
  | {
      readonly command: 'pull';
      readonly dir?: string;
      readonly preset: string;
      readonly url?: string;
      readonly sha256?: string;
      readonly fromNpm: boolean;
      readonly acceptLicense?: string;
    };

export const USAGE = `Usage: cutout-models <command> [options]

Manages the named models predict loads for MODEL=<preset>: <CUTOUT_MODELS_DIR>/<preset>.onnx
(default ~/.cutout/models).

Commands:
  list                      every preset: built in, or whether its file is there, its size and sha256
  pull <preset>             download the file rembg publishes, check its checksum, then put it in place
       --url URL            download from URL instead
       --sha256 HEX         expect this sha256 instead of the published checksum
       --from-npm           (isnet-general-use only) assemble the file from the npm package
                            @imgly/background-removal-data (AGPL-3.0) for networks that allow npm only
       --accept-license agpl-3.0   required with --from-npm, after reading the licence it prints
  verify [preset...]        recheck the checksums of the files present (all, or those named)

Options:
  --dir DIR                 the models folder instead of CUTOUT_MODELS_DIR
  -h, --help                this text

A pull keeps <preset>.onnx.partial while it runs and resumes from it when run again; the file is
renamed into place only once its checksum matches, and a file that does not match is deleted (exit 1).
`;

function value(argv: readonly string[], i: number, flag: string): string {
  const v = argv[i + 1];
  if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
  return v;
}

/** Parses `cutout-models …` arguments (without node and the script). */
export function parseModelsArgs(argv: readonly string[]): ModelsCommand {
  if (argv.length === 0 || argv.includes('--help') || argv.includes('-h')) return { command: 'help' };
  const [command, ...rest] = argv;
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg === '--from-npm') flags.fromNpm = true;
    else if (arg === '--dir' || arg === '--url' || arg === '--sha256' || arg === '--accept-license') flags[arg.slice(2)] = value(rest, i++, arg);
    else if (arg.startsWith('-')) throw new UsageError(`unknown option ${arg}`);
    else positional.push(arg);
  }
  const dir = typeof flags.dir === 'string' ? { dir: flags.dir } : {};
  const onlyFor = (allowed: string[]) => {
    const extra = Object.keys(flags).filter((f) => f !== 'dir' && !allowed.includes(f));
    if (extra.length > 0) throw new UsageError(`${command} takes no ${extra.map((f) => (f === 'fromNpm' ? '--from-npm' : `--${f}`)).join(', ')}`);
  };
  switch (command) {
    case 'list':
      onlyFor([]);
      if (positional.length > 0) throw new UsageError('list takes no arguments');
      return { command: 'list', ...dir };
    case 'verify':
      onlyFor([]);
      return { command: 'verify', ...dir, presets: positional };
    case 'pull': {
      onlyFor(['url', 'sha256', 'fromNpm', 'accept-license']);
      if (positional.length !== 1) throw new UsageError('pull takes one preset name, e.g. cutout-models pull u2net');
      const sha256 = flags.sha256;
      if (typeof sha256 === 'string' && !/^[0-9a-fA-F]{64}$/.test(sha256)) throw new UsageError('--sha256 must be 64 hexadecimal digits');
      const url = flags.url;
      if (typeof url === 'string' && !/^https?:\/\//.test(url)) throw new UsageError('--url must start with http:// or https://');
      if (flags.fromNpm && url) throw new UsageError('--from-npm and --url cannot be combined');
      return {
        command: 'pull',
        ...dir,
        preset: positional[0]!,
        ...(typeof url === 'string' ? { url } : {}),
        ...(typeof sha256 === 'string' ? { sha256: sha256.toLowerCase() } : {}),
        fromNpm: flags.fromNpm === true,
        ...(typeof flags['accept-license'] === 'string' ? { acceptLicense: flags['accept-license'] } : {}),
      };
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}; use list, pull or verify`);
  }
}
