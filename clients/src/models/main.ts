#!/usr/bin/env node
import { loadConfigOrExit, resolveModelsDir } from '@cutout/config';
import { parseModelsArgs, UsageError, USAGE, type ModelsCommand } from './args.js';
import { listModels, pullModel, verifyModels, type Console } from './commands.js';

function terminalConsole(): Console {
  const io: Console = { out: (line) => process.stdout.write(`${line}\n`), err: (line) => process.stderr.write(`${line}\n`) };
  if (!process.stderr.isTTY) return io;
  let drawn = false;
  let last = 0;
  return {
    ...io,
    progress(text) {
      // A few redraws a second are enough and keep a fast download from spending its time on the terminal.
      const now = Date.now();
      if (drawn && now - last < 100) return;
      last = now;
      drawn = true;
      process.stderr.write(`\r\x1b[K${text.slice(0, Math.max(10, (process.stderr.columns ?? 80) - 1))}`);
    },
    endProgress() {
      if (drawn) process.stderr.write('\r\x1b[K');
      drawn = false;
    },
  };
}

function run(command: Exclude<ModelsCommand, { command: 'help' }>, io: Console): Promise<number> {
  // The models folder is config's CUTOUT_MODELS_DIR unless --dir names another.
  const modelsDir = command.dir ? resolveModelsDir(command.dir) : loadConfigOrExit('models').modelsDir;
  switch (command.command) {
    case 'list':
      return listModels(modelsDir, io);
    case 'verify':
      return verifyModels(modelsDir, command.presets, io);
    case 'pull':
      return pullModel(modelsDir, command, io);
  }
}

async function main(): Promise<number> {
  const io = terminalConsole();
  try {
    const command = parseModelsArgs(process.argv.slice(2));
    if (command.command === 'help') {
      process.stdout.write(USAGE);
      return 0;
    }
    return await run(command, io);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`cutout-models: ${error.message}\nRun "cutout-models --help" for the commands.`);
    return 2;
  }
}

process.exitCode = await main();
