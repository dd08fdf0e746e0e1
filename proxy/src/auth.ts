import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { ApiKey } from '@cutout/config';
import { AppError, type RequestLocals } from '@cutout/shared';

/** Who a request is: the API key's name, or null while the API is open (no keys set). */
export type Owner = string | null;

export interface Keyring {
  /** True when keys are set and every call but the public ones needs one. */
  readonly enabled: boolean;
  /** The name of the key `presented` is, or undefined when it is none of them. */
  identify(presented: string): string | undefined;
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * Keys are compared as SHA-256 digests with timingSafeEqual, against every key without stopping
 * at a match: how long a check takes says nothing about how much of a key was right, or which.
 */
export function createKeyring(keys: readonly ApiKey[]): Keyring {
  const entries = keys.map(({ name, key }) => ({ name, digest: digest(key) }));
  return {
    enabled: entries.length > 0,
    identify(presented) {
      const given = digest(presented);
      let found: string | undefined;
      for (const entry of entries) {
        if (timingSafeEqual(given, entry.digest)) found ??= entry.name;
      }
      return found;
    },
  };
}

/** The key a request carries: `X-Api-Token` (seed 004) or `Authorization: Bearer`. */
function presentedKey(headers: IncomingHttpHeaders): string | undefined {
  const token = headerOf(headers, 'x-api-token');
  if (token) return token.trim();
  const match = /^Bearer\s+(\S+)\s*$/i.exec(headerOf(headers, 'authorization') ?? '');
  return match?.[1];
}

/** A header as express's req.get gives it: the first value when it was sent more than once. */
function headerOf(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function unauthenticated(given: boolean): AppError {
  const what = given ? 'the API key is not valid' : 'this call needs an API key';
  return new AppError(401, 'UNAUTHENTICATED', `${what}; send it as X-Api-Token: <key> or Authorization: Bearer <key>`);
}

/** The owner a route handler acts for: set by requireApiKey. */
export function ownerOf(res: Response): Owner {
  return (res.locals as RequestLocals).apiKeyName ?? null;
}

/**
 * With keys set, every call but `isPublic` ones needs a valid key; its name goes on the request
 * (the access log shows it, jobs record it). Without keys the API is open.
 */
export function requireApiKey(keyring: Keyring, isPublic: (req: Request) => boolean): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    if (!keyring.enabled || isPublic(req)) return next();
    const name = authenticate(keyring, req.headers, res);
    if (name instanceof AppError) return next(name);
    (res.locals as RequestLocals).apiKeyName = name;
    next();
  };
}

/**
 * The key's name for a call that needs one (keys set), or the 401 to answer, with its
 * WWW-Authenticate header already on `res`. requireApiKey and the fast lane (fast-jobs.ts) both use it.
 */
export function authenticate(keyring: Keyring, headers: IncomingHttpHeaders, res: ServerResponse): string | AppError {
  const presented = presentedKey(headers);
  const name = presented === undefined ? undefined : keyring.identify(presented);
  if (name !== undefined) return name;
  res.setHeader('WWW-Authenticate', 'Bearer');
  return unauthenticated(presented !== undefined);
}
