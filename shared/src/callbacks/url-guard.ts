import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { AppError } from '../errors.js';

// Addresses a callback must never reach unless its host is allowed by name: a callback URL is
// chosen by the client, so without this a client could make cutout POST into the operator's
// own network (SSRF). IPv4 and IPv6 ranges from the IANA special-purpose registries.
const NON_PUBLIC = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15],
  ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) NON_PUBLIC.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128], ['::1', 128], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['100::', 64], ['2001::', 23],
  ['2001:db8::', 32], ['2002::', 16], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const) NON_PUBLIC.addSubnet(net, bits, 'ipv6');

/**
 * An IPv4 address inside an IPv6 one (::ffff:a.b.c.d, or the hex form), checked as IPv4. (Not a
 * ::ffff:0:0/96 rule in the list: BlockList applies that rule to every plain IPv4 address too.)
 */
function embeddedIpv4(address: string): string | null {
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (dotted) return dotted[1]!;
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (!hex) return null;
  const hi = Number.parseInt(hex[1]!, 16);
  const lo = Number.parseInt(hex[2]!, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return !NON_PUBLIC.check(address, 'ipv4');
  if (family !== 6) return false;
  const v4 = embeddedIpv4(address);
  if (v4 !== null) return !NON_PUBLIC.check(v4, 'ipv4');
  return !NON_PUBLIC.check(address, 'ipv6');
}

/** Where a callback goes: the URL, and the one address it was checked for, to connect to. */
export interface CallbackTarget {
  readonly url: URL;
  readonly address: string;
  readonly family: 4 | 6;
}

export type Lookup = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

const systemLookup: Lookup = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

function forbidden(message: string): AppError {
  return new AppError(400, 'CALLBACK_URL_FORBIDDEN', message);
}

/**
 * Parses and checks a callback URL: http(s), a host that resolves, and every address it
 * resolves to public, unless the host is listed in CALLBACK_ALLOW_HOSTS. Returns the address to
 * connect to, so the connection goes where the check looked (a DNS answer that changes between
 * check and connect, as in DNS rebinding, cannot move it). Throws 400 CALLBACK_URL_FORBIDDEN.
 */
export async function checkCallbackUrl(raw: string, allowHosts: ReadonlySet<string>, lookup: Lookup = systemLookup): Promise<CallbackTarget> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw forbidden('callback_url is not an absolute URL; send e.g. https://example.com/hooks/cutout');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw forbidden(`callback_url must be http:// or https://, not ${url.protocol}//`);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  let addresses: Array<{ address: string; family: number }>;
  if (isIP(host)) {
    addresses = [{ address: host, family: isIP(host) }];
  } else {
    try {
      addresses = await lookup(host);
    } catch {
      throw forbidden(`the host of callback_url (${JSON.stringify(host.slice(0, 100))}) does not resolve; use a host this server can reach`);
    }
  }
  if (addresses.length === 0) throw forbidden(`the host of callback_url (${JSON.stringify(host.slice(0, 100))}) has no address`);
  if (!allowHosts.has(host)) {
    const bad = addresses.find((a) => !isPublicAddress(a.address));
    if (bad) {
      throw forbidden(
        `callback_url's host ${JSON.stringify(host.slice(0, 100))} resolves to ${bad.address}, a loopback, private, link-local or reserved address; callbacks go to public addresses only, unless an operator lists the host in CALLBACK_ALLOW_HOSTS`,
      );
    }
  }
  const first = addresses[0]!;
  return { url, address: first.address, family: first.family === 6 ? 6 : 4 };
}
