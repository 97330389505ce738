import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createCors } from '../../src/server/cors.js';
import { isCsrfSafe } from '../../src/server/csrf.js';
import { cacheControlFor, matchesEtag } from '../../src/server/http-caching.js';
import { clientAddress, clientOf, createInboundRateLimit } from '../../src/server/inbound-rate-limit.js';
import { createRequestStats } from '../../src/data/request-scope.js';
import { createFakeClock } from '../helpers/fake-clock.js';

describe('isCsrfSafe', () => {
  it.each([
    [{}, false],
    [{ 'content-type': 'text/plain;charset=utf-8' }, false],
    [{ 'content-type': 'Multipart/Form-Data; boundary=x' }, false],
    [{ 'apollo-require-preflight': '   ' }, false],
    [{ 'content-type': 'application/json' }, true],
    [{ 'content-type': 'text/plain', 'x-apollo-operation-name': 'Q' }, true],
    [{ 'graphql-preflight': '1' }, true],
  ])('judges %j as safe: %s', (headers, safe) => {
    expect(isCsrfSafe(headers)).toBe(safe);
  });
});

describe('createCors', () => {
  it('echoes a listed origin, allows any origin with *, and says nothing to others', () => {
    const cors = createCors({ origins: ['https://a.example'] });
    expect(cors.headersFor('https://a.example')['access-control-allow-origin']).toBe('https://a.example');
    expect(cors.headersFor('https://b.example')).toEqual({ vary: 'Origin' });
    expect(cors.headersFor(undefined)).toEqual({ vary: 'Origin' });
    expect(createCors({ origins: ['*'] }).preflightFor('https://b.example')['access-control-allow-origin']).toBe('https://b.example');
  });

  it('never allows credentials: the token is a header, and with any origin echoed a cookie would be read cross-site', () => {
    const any = createCors({ origins: ['*'] });
    for (const headers of [any.headersFor('https://b.example'), any.preflightFor('https://b.example')]) {
      expect(headers['access-control-allow-origin']).toBe('https://b.example');
      expect(headers).not.toHaveProperty('access-control-allow-credentials');
    }
  });
});

describe('createInboundRateLimit', () => {
  it('refills continuously and reports when the next request would pass', async () => {
    const clock = createFakeClock();
    const limit = createInboundRateLimit({ clock, perMinute: 60 });
    for (let i = 0; i < 60; i++) expect(limit.take('a').allowed).toBe(true);
    expect(limit.take('a')).toEqual({ allowed: false, retryAfterSeconds: 1 });
    expect(limit.take('b').allowed).toBe(true);
    await clock.advance(1000);
    expect(limit.take('a').allowed).toBe(true);
    expect(limit.take('a').allowed).toBe(false);
  });

  it('never limits when perMinute is 0', () => {
    const limit = createInboundRateLimit({ clock: createFakeClock(), perMinute: 0 });
    expect(limit.enabled).toBe(false);
    for (let i = 0; i < 1000; i++) expect(limit.take('a').allowed).toBe(true);
  });
});

describe('clientOf', () => {
  it('puts the addresses of one IPv6 /64 in one bucket, and keeps IPv4 addresses apart', () => {
    const bucket = clientOf('2001:db8:1:2:3:4:5:6');
    for (const address of ['2001:db8:1:2::1', '2001:DB8:1:2:ffff:ffff:ffff:ffff', '2001:0db8:0001:0002::', '2001:db8:1:2:3:4:1.2.3.4', '2001:db8:1:2::1%eth0']) {
      expect(clientOf(address), address).toBe(bucket);
    }
    expect(clientOf('2001:db8:1:3::1')).not.toBe(bucket);
    expect(clientOf('2001:db8::1')).toBe(clientOf('2001:db8:0:0:ffff::'));
    expect(clientOf('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(clientOf('::ffff:0a00:0001')).toBe('10.0.0.1');
    expect(clientOf('1::2:3:4:5:6.7.8.9')).toBe('1:0:2:3::/64');
    expect(clientOf('::1')).not.toBe(clientOf('::ffff:0102:0304'));
    expect(clientOf('10.0.0.1')).not.toBe(clientOf('10.0.0.2'));
    expect(clientOf('unknown')).toBe('unknown');
  });

  it('limits a client that changes address within its /64 as one client', () => {
    const limit = createInboundRateLimit({ clock: createFakeClock(), perMinute: 3 });
    const answers = Array.from({ length: 5 }, (_, i) => limit.take(`2001:db8:1:2::${i + 1}`).allowed);
    expect(answers).toEqual([true, true, true, false, false]);
    expect(limit.take('2001:db8:1:3::1').allowed).toBe(true);
  });
});

describe('clientAddress', () => {
  const req = (forwarded?: string) => ({ headers: forwarded ? { 'x-forwarded-for': forwarded } : {}, socket: { remoteAddress: '10.0.0.1' } }) as unknown as IncomingMessage;
  it('uses the socket address unless a proxy is trusted, then the last forwarded entry', () => {
    expect(clientAddress(req('1.1.1.1'), false)).toBe('10.0.0.1');
    expect(clientAddress(req('6.6.6.6, 1.1.1.1'), true)).toBe('1.1.1.1');
    expect(clientAddress(req(), true)).toBe('10.0.0.1');
  });

  it('reads a forwarded address without the port some proxies append, so a client is one bucket whatever port it connects from', () => {
    // Azure Application Gateway appends `address:port`; an IPv6 address then comes in brackets.
    expect(clientAddress(req('203.0.113.7:51234'), true)).toBe('203.0.113.7');
    expect(clientAddress(req('6.6.6.6, [2001:db8::1]:443'), true)).toBe('2001:db8::1');
    expect(clientAddress(req('[2001:db8::1]'), true)).toBe('2001:db8::1');
    expect(clientAddress(req('2001:db8::1'), true)).toBe('2001:db8::1');
    const limit = createInboundRateLimit({ clock: createFakeClock(), perMinute: 2 });
    const decisions = ['203.0.113.7:1000', '203.0.113.7:1001', '203.0.113.7:1002'].map((forwarded) => limit.take(clientAddress(req(forwarded), true)).allowed);
    expect(decisions).toEqual([true, true, false]);
  });
});

describe('HTTP caching rules', () => {
  const stats = (freshUntil: number, uncacheable = false) => ({ ...createRequestStats(), freshUntil, uncacheable });
  const ok = Buffer.from('{"data":{"a":1}}');

  it('derives max-age from the earliest freshness and refuses errors, stale reads and non-200s', () => {
    expect(cacheControlFor({ status: 200, body: ok, stats: stats(10_999), now: 1_000 })).toBe('private, max-age=9');
    expect(cacheControlFor({ status: 200, body: ok, stats: stats(500), now: 1_000 })).toBe('private, max-age=0');
    expect(cacheControlFor({ status: 200, body: ok, stats: stats(10_000, true), now: 1_000 })).toBe('no-store');
    expect(cacheControlFor({ status: 200, body: Buffer.from('{"errors":[],"data":null}'), stats: stats(10_000), now: 1_000 })).toBe('no-store');
    expect(cacheControlFor({ status: 401, body: ok, stats: stats(10_000), now: 1_000 })).toBe('no-store');
  });

  it('compares ETags weakly and understands lists and *', () => {
    expect(matchesEtag('W/"abc"', 'W/"abc"')).toBe(true);
    expect(matchesEtag('"abc"', 'W/"abc"')).toBe(true);
    expect(matchesEtag('W/"x", W/"abc"', 'W/"abc"')).toBe(true);
    expect(matchesEtag('*', 'W/"abc"')).toBe(true);
    expect(matchesEtag('W/"abcd"', 'W/"abc"')).toBe(false);
    expect(matchesEtag(undefined, 'W/"abc"')).toBe(false);
  });
});
