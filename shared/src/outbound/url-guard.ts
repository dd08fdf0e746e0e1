import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { AppError } from '../errors.js';
import { isPublicAddress } from './public-address.js';

/** Where an outbound request goes: the URL, and the one address it was checked for, to connect to. */
export interface OutboundTarget {
  readonly url: URL;
  readonly address: string;
  readonly family: 4 | 6;
}

export type Lookup = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

const systemLookup: Lookup = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/** How a refusal is worded for one kind of URL: its field, its error code, the setting that allows a host. */
interface Wording {
  readonly field: string;
  readonly code: string;
  readonly allowSetting: string;
  readonly purpose: string;
}

const CALLBACK: Wording = { field: 'callback_url', code: 'CALLBACK_URL_FORBIDDEN', allowSetting: 'CALLBACK_ALLOW_HOSTS', purpose: 'callbacks go' };
const FETCH: Wording = { field: 'url', code: 'FETCH_URL_FORBIDDEN', allowSetting: 'FETCH_ALLOW_HOSTS', purpose: 'images are fetched from' };

/** The host of a URL as a name or a bare address, lower case, without IPv6 brackets. */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
}

/** Settles with the promise, or rejects as soon as the signal aborts: a slow resolver cannot outlast an attempt's deadline. */
function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const stop = () => reject(signal.reason);
    if (signal.aborted) return stop();
    signal.addEventListener('abort', stop, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', stop));
  });
}

/**
 * Parses and checks a URL a client chose: http(s), a host that resolves, and every address it
 * resolves to public unicast (isPublicAddress), unless the host is listed by name in the allow
 * setting. Returns the address to connect to, so the connection goes where the check looked (a
 * DNS answer that changes between check and connect, as in DNS rebinding, cannot move it).
 * Without this a client could make cutout reach into the operator's own network (SSRF).
 */
async function checkOutboundUrl(raw: string, wording: Wording, allowHosts: ReadonlySet<string>, lookup: Lookup, signal?: AbortSignal): Promise<OutboundTarget> {
  const forbidden = (message: string) => new AppError(400, wording.code, message);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw forbidden(`${wording.field} is not an absolute URL; send e.g. https://example.com/path`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw forbidden(`${wording.field} must be http:// or https://, not ${url.protocol}//`);
  const host = hostOf(url);
  const shown = JSON.stringify(host.slice(0, 100));
  let addresses: Array<{ address: string; family: number }>;
  if (isIP(host)) {
    addresses = [{ address: host, family: isIP(host) }];
  } else {
    try {
      addresses = await unlessAborted(lookup(host), signal);
    } catch {
      if (signal?.aborted) throw signal.reason;
      throw forbidden(`the host of ${wording.field} (${shown}) does not resolve; use a host this server can reach`);
    }
  }
  if (addresses.length === 0) throw forbidden(`the host of ${wording.field} (${shown}) has no address`);
  if (!allowHosts.has(host)) {
    const bad = addresses.find((a) => !isPublicAddress(a.address));
    if (bad) {
      throw forbidden(
        `${wording.field}'s host ${shown} is or resolves to ${bad.address}, which is not a public unicast address (loopback, private, link-local, reserved or another special-purpose range, in any spelling); ${wording.purpose} public addresses only, unless an operator lists the host in ${wording.allowSetting}`,
      );
    }
  }
  const first = addresses[0]!;
  return { url, address: first.address, family: first.family === 6 ? 6 : 4 };
}

/** A callback_url, checked at submit and again before each delivery; throws 400 CALLBACK_URL_FORBIDDEN. */
export function checkCallbackUrl(raw: string, allowHosts: ReadonlySet<string>, lookup: Lookup = systemLookup, signal?: AbortSignal): Promise<OutboundTarget> {
  return checkOutboundUrl(raw, CALLBACK, allowHosts, lookup, signal);
}

/** A URL to fetch an image from (GET /api/remove?url=), and each redirect it leads to; throws 400 FETCH_URL_FORBIDDEN. */
export function checkFetchUrl(raw: string, allowHosts: ReadonlySet<string>, lookup: Lookup = systemLookup, signal?: AbortSignal): Promise<OutboundTarget> {
  return checkOutboundUrl(raw, FETCH, allowHosts, lookup, signal);
}
