import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { readKatapultData, type RequestScope } from '../data/request-scope.js';
import type { Logger } from '../logger.js';
import type { TokenKeyer } from '../token-key.js';
import type { GatewayMetrics } from './metrics.js';

/** What the plugins learn about a request while yoga runs it, for its summary line. */
export interface RequestNotes {
  /** The executed operation's name, from the document; null when anonymous or never parsed. */
  operationName: string | null;
}

export interface RequestLogOptions {
  logger: Logger;
  metrics: GatewayMetrics;
  tokens: TokenKeyer;
}

export interface RequestSummary {
  scope: RequestScope;
  method: string;
  status: number;
  /** `performance.now()` when the request arrived. */
  startedAt: number;
  operationName: string | null;
  /** Answered from finished-response bytes without running yoga. */
  fastPath?: boolean;
}

/**
 * Records the operation name from the parsed document (not the client's `operationName`
 * parameter, which can be any text and reaches here before it is checked).
 */
export function useOperationNotes(): Plugin<{ notes?: RequestNotes }> {
  return {
    onExecute({ args }) {
      const notes = (args.contextValue as { notes?: RequestNotes }).notes;
      if (notes) notes.operationName = getOperationAST(args.document, args.operationName)?.name?.value ?? null;
    },
  };
}

/**
 * The longest operation name a summary line holds whole. A name is one GraphQL token, which
 * the token limit counts as one however long: a client could otherwise have every line it
 * causes carry tens of KB.
 */
export const MAX_LOGGED_OPERATION_NAME = 200;

const loggedName = (name: string | null): string | null => (name !== null && name.length > MAX_LOGGED_OPERATION_NAME ? `${name.slice(0, MAX_LOGGED_OPERATION_NAME)}…` : name);

/**
 * One line and one set of metric updates per GraphQL request, written after the answer is
 * sent. It is built from counters the request already kept, so the warm path pays for one
 * log record and a few counter increments.
 *
 * Redaction is by construction: the line is assembled field by field from the scope, and the
 * token appears only as its keyed fingerprint.
 */
export function createRequestLog(options: RequestLogOptions): (summary: RequestSummary) => void {
  const { logger, metrics, tokens } = options;
  return (summary) => {
    const { scope, status } = summary;
    const durationMs = Math.round((performance.now() - summary.startedAt) * 1000) / 1000;
    const s = scope.stats;
    metrics.graphqlRequest(summary.operationName, status, durationMs, status === 200 && readKatapultData(s) ? scope.tokenKey : null);
    if (!logger.isLevelEnabled('info')) return;
    logger.info(
      {
        requestId: scope.requestId,
        operationName: loggedName(summary.operationName),
        method: summary.method,
        status,
        durationMs,
        fastPath: summary.fastPath === true,
        upstreamCalls: s.upstreamCalls,
        prefetchedReads: s.prefetched,
        cache: { hits: s.hits, misses: s.misses, stale: s.stale + s.staleIfError, coalesced: s.coalesced, negative: s.negative },
        queueWaitMs: s.queueWaitMs,
        tokenFingerprint: scope.token ? tokens.fingerprint(scope.token) : null,
      },
      'graphql request',
    );
  };
}
