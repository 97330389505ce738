import type { IncomingMessage } from 'node:http';
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
  take(client: string): InboundDecision;
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
    take(client) {
      if (perMinute <= 0) return { allowed: true };
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
    if (last) return last;
  }
  return req.socket.remoteAddress ?? 'unknown';
}
