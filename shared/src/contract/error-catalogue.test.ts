import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERROR_CATALOGUE, ERROR_CODES, isErrorCode } from './error-catalogue.js';

// The repository root, found from this file's place in shared/dist/contract/.
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Every code named in the first column of a table in docs/errors.md (a row may name several). */
function documentedCodes(markdown: string): Set<string> {
  const codes = new Set<string>();
  for (const line of markdown.split('\n')) {
    const first = /^\|([^|]*)\|/.exec(line)?.[1];
    if (first === undefined) continue;
    for (const m of first.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) codes.add(m[1]!);
  }
  return codes;
}

/** Every non-test TypeScript source file under a workspace's src folder. */
function sourceFiles(): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts')) files.push(path);
    }
  };
  for (const workspace of readdirSync(REPO_ROOT)) {
    if (workspace === 'node_modules' || workspace.startsWith('.')) continue;
    const src = join(REPO_ROOT, workspace, 'src');
    if (existsSync(src) && statSync(src).isDirectory()) walk(src);
  }
  return files;
}

interface Construction {
  where: string;
  status: string;
  code: string | null;
}

/** `new AppError(<status>, '<CODE>'`: the status as written and the code when it is a literal. */
function appErrorsIn(file: string): Construction[] {
  const text = readFileSync(file, 'utf8');
  const found: Construction[] = [];
  for (const m of text.matchAll(/new AppError\(\s*([^,()]+?)\s*,\s*(?:(['"`])([^'"`]*)\2)?/g)) {
    const line = text.slice(0, m.index).split('\n').length;
    found.push({ where: `${relative(REPO_ROOT, file)}:${line}`, status: m[1]!, code: m[3] ?? null });
  }
  return found;
}

test('docs/errors.md lists exactly the codes of ERROR_CATALOGUE', () => {
  const doc = documentedCodes(readFileSync(join(REPO_ROOT, 'docs', 'errors.md'), 'utf8'));
  assert.ok(doc.size >= 10, `docs/errors.md's tables were read (${doc.size} codes found)`);
  const missing = ERROR_CODES.filter((code) => !doc.has(code));
  const unknown = [...doc].filter((code) => !isErrorCode(code));
  assert.deepEqual({ missing, unknown }, { missing: [], unknown: [] }, 'codes in the catalogue but not in docs/errors.md (missing), or documented but not in the catalogue (unknown)');
});

test('every new AppError(status, code) in the sources uses a catalogued code with the catalogue status', () => {
  const constructions = sourceFiles().flatMap(appErrorsIn);
  const literal = constructions.filter((c) => c.code !== null);
  assert.ok(literal.length >= 30, `the scan found the sources' errors (${literal.length} with a literal code)`);
  const problems: string[] = [];
  for (const { where, status, code } of literal) {
    if (!isErrorCode(code!)) {
      problems.push(`${where}: ${code} is not in ERROR_CATALOGUE`);
      continue;
    }
    // A status computed at run time (e.g. BAD_REQUEST carrying body-parser's 4xx) cannot be compared here.
    if (/^\d{3}$/.test(status) && Number(status) !== ERROR_CATALOGUE[code!].status) {
      problems.push(`${where}: ${code} is thrown with ${status}, the catalogue says ${ERROR_CATALOGUE[code!].status}`);
    }
  }
  assert.deepEqual(problems, []);
});

test('the catalogue itself: every status is an HTTP error status, every code has a summary', () => {
  for (const [code, spec] of Object.entries(ERROR_CATALOGUE)) {
    assert.ok(spec.status >= 400 && spec.status <= 599, `${code}: ${spec.status}`);
    assert.match(code, /^[A-Z][A-Z0-9_]*$/);
    assert.ok(spec.summary.length > 0, `${code} has a summary`);
  }
});
