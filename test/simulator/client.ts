import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Simulator } from '../../src/simulator/index.js';

/** In-process base URL: nothing leaves the process when it goes through `simulator.fetch`. */
export const BASE = 'http://127.0.0.1/core/v1';

export interface SimResponse {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

/** GETs a path (relative to `/core/v1`) with a bearer token (none when null). */
export async function get(simulator: Simulator, pathAndQuery: string, token: string | null, init: RequestInit = {}): Promise<SimResponse> {
  const headers = new Headers(init.headers);
  if (token !== null) headers.set('Authorization', `Bearer ${token}`);
  const res = await simulator.fetch(`${BASE}${pathAndQuery}`, { ...init, headers });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const referencePath = path.resolve(repoRoot, '../shared/upstream/README.md');

/** The upstream wire reference, when this checkout sits next to it; null otherwise. */
export function readReference(): string | null {
  return existsSync(referencePath) ? readFileSync(referencePath, 'utf8') : null;
}

/** Exact error descriptions from the reference's error table, by code (rows with one code only). */
export function referenceDescriptions(reference: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of reference.split('\n')) {
    const m = /^\| (\d{3}) \| `([a-z_]+)` \| (.+?) \| .* \|$/.exec(line);
    if (m?.[2] && m[3]) out.set(m[2], m[3]);
  }
  return out;
}
