import { promisify } from 'node:util';
import { brotliCompress, brotliCompressSync, constants, gzip, gzipSync } from 'node:zlib';

export type Encoding = 'br' | 'gzip';

/** Below this, compression saves less than its own headers and CPU cost. */
export const MIN_COMPRESS_BYTES = 1024;

/**
 * Up to this size a body is compressed on the event loop: it takes well under a millisecond,
 * while the hand-off to zlib's thread pool and back adds its own wake-ups to every answer.
 */
export const SYNC_COMPRESS_MAX_BYTES = 64 * 1024;

const brotli = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

/**
 * The encoding to answer with, from an `Accept-Encoding` header: brotli when the client takes
 * it (smaller JSON), else gzip, else none. `q=0` refuses an encoding; `*` stands for both.
 */
export function negotiateEncoding(acceptEncoding: string | undefined): Encoding | null {
  if (!acceptEncoding) return null;
  const accepted = new Map<string, number>();
  for (const part of acceptEncoding.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
    if (name) accepted.set(name, q === undefined ? 1 : Number(q));
  }
  const weight = (name: Encoding) => accepted.get(name) ?? accepted.get('*') ?? 0;
  if (weight('br') > 0 && weight('br') >= weight('gzip')) return 'br';
  if (weight('gzip') > 0) return 'gzip';
  return null;
}

/**
 * Compresses off the event loop (zlib's thread pool). Brotli at quality 4 compresses JSON
 * better than gzip at about gzip's speed; the default quality 11 is far too slow per request.
 */
export function compress(body: Buffer, encoding: Encoding): Promise<Buffer> {
  return encoding === 'br' ? brotli(body, brotliOptions(body)) : gzipAsync(body, GZIP_OPTIONS);
}

/** The same compression, on the calling thread: for bodies up to SYNC_COMPRESS_MAX_BYTES. */
export function compressSync(body: Buffer, encoding: Encoding): Buffer {
  return encoding === 'br' ? brotliCompressSync(body, brotliOptions(body)) : gzipSync(body, GZIP_OPTIONS);
}

const GZIP_OPTIONS = { level: 6 };
const brotliOptions = (body: Buffer) => ({ params: { [constants.BROTLI_PARAM_QUALITY]: 4, [constants.BROTLI_PARAM_SIZE_HINT]: body.length } });
