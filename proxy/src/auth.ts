import { createHash, timingSafeEqual } from 'node:crypto';
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
function presentedKey(req: Request): string | undefined {
  const token = req.get('x-api-token');
  if (token) return token.trim();
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
  return match?.[1];
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
    const presented = presentedKey(req);
    const name = presented === undefined ? undefined : keyring.identify(presented);
    if (name === undefined) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      return next(unauthenticated(presented !== undefined));
    }
    (res.locals as RequestLocals).apiKeyName = name;
    next();
  };
}
