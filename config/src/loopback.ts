import { isIPv4, isIPv6 } from 'node:net';

/**
 * True only for an address that is loopback by its digits: 127.0.0.0/8, ::1, or an IPv4-mapped
 * 127.x address (brackets allowed). A wildcard (0.0.0.0, ::, empty) listens on every interface,
 * and a host name, even `localhost`, is whatever the resolver says at listen time, so neither
 * counts.
 */
export function isLoopbackAddress(host: string): boolean {
  const bare = host.trim().replace(/^\[(.*)\]$/, '$1');
  if (isIPv4(bare)) return bare.split('.')[0] === '127';
  if (!isIPv6(bare)) return false;
  // The URL parser writes an IPv6 address in one canonical form (::ffff:127.0.0.1 → ::ffff:7f00:1).
  const canonical = new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  return canonical === '::1' || /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(canonical);
}
