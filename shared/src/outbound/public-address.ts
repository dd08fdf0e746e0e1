import ipaddr from 'ipaddr.js';

// Global unicast (RFC 4291 §2.4): every public IPv6 address lies in 2000::/3. ipaddr.js names
// the special-purpose blocks inside it (documentation, 6to4, Teredo, ORCHID, benchmarking, …)
// and calls everything it has no name for 'unicast' — which includes odd corners outside 2000::/3
// such as the deprecated IPv4-compatible ::a.b.c.d (::/96), so both tests are needed.
const GLOBAL_UNICAST = ipaddr.parseCIDR('2000::/3');

/**
 * True only for a public unicast address: the kind a URL chosen by a client may make cutout
 * connect to. Everything else is refused: loopback, private, link-local, carrier-grade NAT,
 * multicast, broadcast, reserved and documentation blocks, and in IPv6 also unique-local,
 * NAT64/SIIT translation forms and every address outside global unicast. An IPv4 address
 * written inside IPv6 (::ffff:a.b.c.d) is judged as the IPv4 address it reaches.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  const parsed = ipaddr.process(address);
  if (parsed.kind() === 'ipv4') return parsed.range() === 'unicast';
  return parsed.range() === 'unicast' && parsed.match(GLOBAL_UNICAST);
}
