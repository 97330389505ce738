import { promisify } from 'node:util';
import { brotliCompress, brotliCompressSync, constants, gzip, gzipSync } from 'node:zlib';
import { QVALUE } from './accept.js';

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

export interface EncodingChoice {
  encoding: Encoding | null;
  /**
   * The smallest body worth compressing: MIN_COMPRESS_BYTES, or 0 when the client refused an
   * unencoded answer (`identity;q=0`, or `*;q=0` without identity listed) and takes one we have.
   */
  minBytes: number;
}

/**
 * The encoding to answer with, from an `Accept-Encoding` header: brotli when the client takes
 * it (smaller JSON), else gzip, else none. `q=0` refuses an encoding; `*` stands for every
 * encoding not listed. A member whose weight is not a valid qvalue (`q=-1`, `q=abc`) is
 * ignored, not read as the default weight of 1.
 */
export function negotiateEncoding(acceptEncoding: string | undefined): EncodingChoice {
  if (!acceptEncoding) return { encoding: null, minBytes: MIN_COMPRESS_BYTES };
  const accepted = new Map<string, number>();
  for (const part of acceptEncoding.split(',')) {
    const [rawName, ...params] = part.toLowerCase().split(';');
    const name = rawName!.trim();
    let q = 1;
    for (const param of params) {
      const [key, value] = param.split('=').map((piece) => piece.trim());
      if (key === 'q') q = value !== undefined && QVALUE.test(value) ? Number(value) : Number.NaN;
    }
    if (name && !Number.isNaN(q)) accepted.set(name, q);
  }
  const weight = (name: string) => accepted.get(name) ?? accepted.get('*') ?? (name === 'identity' ? 1 : 0);
  const encoding = weight('br') > 0 && weight('br') >= weight('gzip') ? 'br' : weight('gzip') > 0 ? 'gzip' : null;
  return { encoding, minBytes: encoding && weight('identity') === 0 ? 0 : MIN_COMPRESS_BYTES };
}

/**
 * Compresses off the event loop (zlib's thread pool). Brotli at quality 4 compresses JSON
 * better than gzip at about gzip's speed; the default quality 11 is far too slow per request.
 */
export function compress(body: Buffer, encoding: Encoding): Promise<Buffer> {
  return encoding === 'br' ? brotli(body, brotliOptions(body)) : gzipAsync(body, gzipOptions(body));
}

/** The same compression, on the calling thread: for bodies up to SYNC_COMPRESS_MAX_BYTES. */
export function compressSync(body: Buffer, encoding: Encoding): Buffer {
  return encoding === 'br' ? brotliCompressSync(body, brotliOptions(body)) : gzipSync(body, gzipOptions(body));
}

/**
 * The window (log2 bytes) a body needs: no match can reach further back than the body is long.
 * zlib's default window (32 KiB, with a 128 KiB hash table) and brotli's (4 MiB) are allocated
 * and cleared for every answer; for the few-KiB answers most queries get, that set-up cost more
 * than the compression itself (about half the time of a gzip here when the process had been
 * idle, for the same output bytes).
 */
export function windowBitsFor(length: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.ceil(Math.log2(Math.max(1, length)))));
}

function gzipOptions(body: Buffer) {
  const windowBits = windowBitsFor(body.length, 9, 15);
  // The hash table in proportion (memLevel 8, zlib's default, at the full 32 KiB window).
  return { level: 6, windowBits, memLevel: Math.max(1, windowBits - 7) };
}

function brotliOptions(body: Buffer) {
  // Up to brotli's default window (4 MiB), so larger bodies compress as before.
  const window = windowBitsFor(body.length, constants.BROTLI_MIN_WINDOW_BITS, constants.BROTLI_DEFAULT_WINDOW);
  return { params: { [constants.BROTLI_PARAM_QUALITY]: 4, [constants.BROTLI_PARAM_SIZE_HINT]: body.length, [constants.BROTLI_PARAM_LGWIN]: window } };
}
