import type { IncomingMessage } from 'node:http';
import { isIPv6 } from 'node:net';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';

export interface InboundRateLimitOptions {
  clock: Clock;
  /** Requests per minute per client address; 0 turns the limit off. */
  perMinute: number;
  /** Client addresses tracked at once; the least recently seen are forgotten first. @default 50000 */
  maxClients?: number;
}

export type InboundDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export interface InboundRateLimit {
  readonly enabled: boolean;
  /** Counts a request from `address` (see `clientOf` for which addresses share a bucket). */
  take(address: string): InboundDecision;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * A token bucket per client address: holds up to a minute's worth of requests and refills
 * continuously, so a client can burst after being quiet but cannot exceed the rate over
 * time. This protects the gateway itself (parsing, the REST cache, the queue), separately
 * from Katapult's per-token budget, which the queue enforces. A forgotten client (more than
 * `maxClients` at once) simply starts with a full bucket.
 */
export function createInboundRateLimit(options: InboundRateLimitOptions): InboundRateLimit {
  const { clock, perMinute } = options;
  const perMs = perMinute / 60_000;
  const buckets = new LRUCache<string, Bucket>({ max: options.maxClients ?? 50_000 });
  return {
    enabled: perMinute > 0,
    take(address) {
      if (perMinute <= 0) return { allowed: true };
      const client = clientOf(address);
      const now = clock.now();
      const bucket = buckets.get(client) ?? { tokens: perMinute, at: now };
      bucket.tokens = Math.min(perMinute, bucket.tokens + Math.max(0, now - bucket.at) * perMs);
      bucket.at = now;
      buckets.set(client, bucket);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return { allowed: true };
      }
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000)) };
    },
  };
}

/**
 * Which bucket an address counts against: an IPv4 address (IPv4-mapped IPv6 included) alone,
 * an IPv6 address with the rest of its /64. One subscriber or host is given a whole /64, so
 * counting each of its 2⁶⁴ addresses apart would give it as many buckets as it wants (and let
 * it push every other client's bucket out of the table).
 */
export function clientOf(address: string): string {
  const bare = address.split('%')[0]!;
  if (!isIPv6(bare)) return address;
  const groups = ipv6Groups(bare);
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join('.');
  }
  return `${groups.slice(0, 4).map((group) => group.toString(16)).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, a dotted IPv4 tail as two groups). */
function ipv6Groups(address: string): number[] {
  const parts = (text: string) =>
    text === ''
      ? []
      : text.split(':').flatMap((part) => {
          if (!part.includes('.')) return [Number.parseInt(part, 16)];
          const [a, b, c, d] = part.split('.').map(Number) as [number, number, number, number];
          return [(a << 8) | b, (c << 8) | d];
        });
  const [head = '', tail] = address.split('::');
  if (tail === undefined) return parts(head);
  const left = parts(head);
  const right = parts(tail);
  return [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/**
 * The address a request counts against. Behind a trusted proxy (TRUST_PROXY), the last
 * `X-Forwarded-For` entry: the one our proxy appended, naming whoever connected to it.
 * Earlier entries are whatever the client claimed and cannot be trusted. Without a trusted
 * proxy the header is ignored, or any client could pick a fresh bucket per request.
 */
export function clientAddress(req: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const header = req.headers['x-forwarded-for'];
    const forwarded = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').map((s) => s.trim()).filter(Boolean);
    const last = forwarded[forwarded.length - 1];
    if (last) return withoutPort(last);
  }
  return req.socket.remoteAddress ?? 'unknown';
}

/**
 * A forwarded address as the address alone. Some proxies (Azure Application Gateway) append
 * the client's port, `203.0.113.7:51234` or `[2001:db8::1]:443`: kept, every connection a
 * client opened would count against a bucket of its own.
 */
function withoutPort(address: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed) return bracketed[1]!;
  const ipv4 = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(address);
  return ipv4 ? ipv4[1]! : address;
}
