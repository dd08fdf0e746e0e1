import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPublicAddress } from './public-address.js';
import { checkCallbackUrl, checkFetchUrl, type Lookup } from './url-guard.js';

test('non-public IPv4 and IPv6 addresses are told apart from public ones, IPv4-mapped IPv6 included', () => {
  for (const address of ['127.0.0.1', '127.0.0.2', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '240.0.0.1', '255.255.255.255', '198.18.0.1', '::1', '::', 'fe80::1', 'fc00::1', 'fd12::1', 'ff02::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1', '2001:db8::1', '64:ff9b::a00:1']) {
    assert.equal(isPublicAddress(address), false, address);
  }
  for (const address of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '93.184.216.34', '2606:4700:4700::1111', '::ffff:8.8.8.8']) {
    assert.equal(isPublicAddress(address), true, address);
  }
  assert.equal(isPublicAddress('not an address'), false);
});

// Issue 18 item 8: forms that reached loopback through the hand-written ranges, and their kin.
const ODD_LOOPBACK_FORMS = [
  '::127.0.0.1', // IPv4-compatible (deprecated, ::/96)
  '::7f00:1', // the same, as the URL parser writes it
  '0::7f00:1',
  '::ffff:0:127.0.0.1', // SIIT (::ffff:0:0/96)
  '::ffff:0:7f00:1',
  '0:0:0:0:0:ffff:7f00:1', // IPv4-mapped, written out
  '64:ff9b::7f00:1', // NAT64 to loopback
  '64:ff9b:1::7f00:1',
  '2002:7f00:1::1', // 6to4 of 127.0.0.1
  '2001:0:7f00:1::1', // Teredo
  '100::1', // discard-only
  'fec0::1', // site-local
  '::2', // unassigned, outside global unicast
  '4000::1', // outside 2000::/3
  '3fff::1', // documentation (RFC 9637)
  '2001:10::1', // ORCHID
  '192.0.0.8',
  '192.52.193.1',
];

test('every IPv4-in-IPv6 and other reserved IPv6 spelling is refused: only global unicast is public', () => {
  for (const address of ODD_LOOPBACK_FORMS) assert.equal(isPublicAddress(address), false, address);
  // Global unicast that is not special stays public, mapped or not.
  for (const address of ['2a00:1450:4001:81a::200e', '2001:4860:4860::8888', '::ffff:1.1.1.1']) assert.equal(isPublicAddress(address), true, address);
});

const fixed = (addresses: string[]): Lookup => async () => addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

test('the URLs of the issue, and other spellings of loopback in a URL, are refused for callbacks and fetches', async () => {
  const urls = [
    'http://[::127.0.0.1]:9/x',
    'http://[0::7f00:1]:9/x',
    'http://[::ffff:0:127.0.0.1]:9/x',
    'http://[::ffff:127.0.0.1]:9/x',
    'http://[0:0:0:0:0:0:0:1]:9/x',
    'http://[::]:9/x',
    'http://2130706433:9/x',
    'http://0x7f.1:9/x',
    'http://017700000001:9/x',
    'http://127.1:9/x',
    'http://0:9/x',
  ];
  const noLookup: Lookup = async () => assert.fail('an address needs no lookup');
  for (const url of urls) {
    await assert.rejects(checkCallbackUrl(url, new Set(), noLookup), (e: { code?: string }) => e.code === 'CALLBACK_URL_FORBIDDEN', url);
    await assert.rejects(checkFetchUrl(url, new Set(), noLookup), (e: { code?: string }) => e.code === 'FETCH_URL_FORBIDDEN', url);
  }
  // A name that resolves to one of those forms is refused the same way.
  await assert.rejects(checkCallbackUrl('http://hooks.example/x', new Set(), fixed(['::7f00:1'])), (e: { code?: string }) => e.code === 'CALLBACK_URL_FORBIDDEN');
});

test('a URL is refused when any address its host resolves to is not public, unless the host is allowed by name', async () => {
  const refuse = async (url: string, lookup: Lookup, allow: string[] = []) =>
    assert.rejects(checkCallbackUrl(url, new Set(allow), lookup), (e: { code?: string }) => e.code === 'CALLBACK_URL_FORBIDDEN', url);
  await refuse('http://hooks.example/x', fixed(['10.0.0.5']));
  await refuse('http://hooks.example/x', fixed(['93.184.216.34', '127.0.0.1']));
  await refuse('http://127.0.0.2:9/x', fixed([]));
  await refuse('http://[::1]:9/x', fixed([]));
  await refuse('ftp://hooks.example/x', fixed(['93.184.216.34']));
  await refuse('not a url', fixed([]));
  await refuse('http://nowhere.example/x', async () => {
    throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
  });
  const ok = await checkCallbackUrl('https://hooks.example/x', new Set(), fixed(['93.184.216.34']));
  assert.deepEqual([ok.address, ok.family, ok.url.hostname], ['93.184.216.34', 4, 'hooks.example']);
  const allowed = await checkCallbackUrl('http://receiver.internal:8080/x', new Set(['receiver.internal']), fixed(['10.0.0.7']));
  assert.equal(allowed.address, '10.0.0.7');
  const v6 = await checkFetchUrl('http://[::1]:9/x', new Set(['::1']), fixed([]));
  assert.deepEqual([v6.address, v6.family], ['::1', 6]);
});

test('a name lookup that hangs ends when the signal aborts, not when the resolver gives up', async () => {
  const hangs: Lookup = () => new Promise(() => undefined);
  const stop = new AbortController();
  setTimeout(() => stop.abort(new Error('the attempt is over')), 50);
  await assert.rejects(checkCallbackUrl('http://slow.example/x', new Set(), hangs, stop.signal), /the attempt is over/);
});
