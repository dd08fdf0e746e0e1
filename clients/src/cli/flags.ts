import { parseArgs, type ParseArgsConfig } from 'node:util';
import { errorMessage } from '@cutout/shared';

type Options = NonNullable<ParseArgsConfig['options']>;
/** What parseArgs returns for these options, strict and without positionals. */
export type FlagValues<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: false }>>['values'];

/** A command line that cannot work: each CLI's main prints it with a hint to --help and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The flags of a CLI that takes no positional arguments; unknown flags and bad values are UsageErrors. */
export function readFlags<const O extends Options>(argv: readonly string[], options: O): FlagValues<O> {
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    // parseArgs' own messages name the flag; drop its advice about "--", which does not apply here.
    const message = errorMessage(error).replace(/\s*To specify a positional argument.*$/s, '');
    throw new UsageError(message);
  }
}
