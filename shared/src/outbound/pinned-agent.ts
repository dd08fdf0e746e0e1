import type { LookupFunction } from 'node:net';
import { Agent } from 'undici';
import type { OutboundTarget } from './url-guard.js';

/**
 * An undici Agent whose every connection goes to the address that was checked: whatever the
 * URL's host name resolves to by then (a second DNS answer, as in DNS rebinding), the socket
 * cannot be sent elsewhere. TLS still verifies the certificate against the URL's host name.
 * One agent per request: close it when the request ends.
 */
export function pinnedAgent(target: OutboundTarget): Agent {
  const pinned = ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options.all) callback(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  }) as unknown as LookupFunction;
  return new Agent({ connect: { lookup: pinned } });
}
