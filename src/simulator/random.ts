/**
 * A small seeded PRNG (mulberry32). The simulator needs the same dataset and the same fault
 * dice on every run for a given seed, which `Math.random` cannot give.
 */
export type Random = () => number;

export function createRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHANUMERICS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** `<prefix>_<16 alphanumerics>`, the shape of every Katapult id. */
export function randomId(random: Random, prefix: string): string {
  return `${prefix}_${randomString(random, 16)}`;
}

export function randomString(random: Random, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHANUMERICS[Math.floor(random() * ALPHANUMERICS.length)];
  return out;
}

export function pick<T>(random: Random, items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new Error('pick() needs a non-empty list');
  return item;
}
