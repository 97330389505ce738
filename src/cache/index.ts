export { createRestCache, DEFAULT_TTL_MS } from './rest-cache.js';
export type {
  CacheFetchOptions,
  CacheKey,
  CacheRead,
  CacheStatus,
  LoadContext,
  ResourceKind,
  RestCache,
  RestCacheHooks,
  RestCacheOptions,
} from './rest-cache.js';
