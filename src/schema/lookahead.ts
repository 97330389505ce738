import type { FieldNode, GraphQLResolveInfo, SelectionSetNode } from 'graphql';
import type { MaybePromise } from '../data/katapult-source.js';

/**
 * Looking ahead into the selection: which fields a query asks for below the current one.
 * A resolver uses it to start reads that deeper resolvers will need (they join the same
 * in-flight call through the cache), so a query costs one round trip to Katapult instead of
 * one per level of nesting.
 */

/**
 * Calls `visit` with each field of a selection, reached through inline fragments and named
 * ones, and stops as soon as it returns true (then so does this). A named fragment is walked
 * once per walk (`seen`): one spread twice in each of forty nested fragments would otherwise be
 * 2⁴⁰ paths, and what it adds the second time is already there.
 */
export function someField(selection: SelectionSetNode | undefined, info: GraphQLResolveInfo, visit: (field: FieldNode) => boolean | void, seen = new Set<string>()): boolean {
  if (!selection) return false;
  for (const node of selection.selections) {
    if (node.kind === 'Field') {
      if (visit(node)) return true;
    } else if (node.kind === 'InlineFragment') {
      if (someField(node.selectionSet, info, visit, seen)) return true;
    } else if (!seen.has(node.name.value)) {
      seen.add(node.name.value);
      if (someField(info.fragments[node.name.value]?.selectionSet, info, visit, seen)) return true;
    }
  }
  return false;
}

/** Field names selected at `path` below the field being resolved (through fragments and aliases). */
export function selectedFields(info: GraphQLResolveInfo, path: readonly string[]): Set<string> {
  let level: FieldNode[] = [...info.fieldNodes];
  for (const name of path) {
    const next: FieldNode[] = [];
    const seen = new Set<string>();
    for (const node of level) {
      someField(node.selectionSet, info, (field) => {
        if (field.name.value === name) next.push(field);
      }, seen);
    }
    if (next.length === 0) return new Set();
    level = next;
  }
  const found = new Set<string>();
  const seen = new Set<string>();
  for (const node of level) {
    someField(node.selectionSet, info, (field) => {
      found.add(field.name.value);
    }, seen);
  }
  return found;
}

/**
 * Starts a read for its side effect (filling the cache); its failure is left for the real reader
 * to see. When `behind` is still pending (the read the query waits on first is on its way to
 * Katapult), this one starts on the next turn of the event loop: by then that call has been
 * written to its socket instead of waiting for this one's request to be built. If `behind` has
 * settled by then, the read is dropped: after a failure nothing needs it (and the answer may
 * already be sent), and after a success the resolvers that need it have started it themselves.
 */
export function prefetch(read: () => MaybePromise<unknown>, behind?: MaybePromise<unknown>): void {
  if (behind instanceof Promise) {
    let settled = false;
    const settle = () => {
      settled = true;
    };
    behind.then(settle, settle);
    setImmediate(() => {
      if (!settled) prefetch(read);
    });
    return;
  }
  try {
    const pending = read();
    if (pending && typeof (pending as Promise<unknown>).then === 'function') (pending as Promise<unknown>).catch(() => undefined);
  } catch {
    // The resolver that needs this data reads it again and reports the error where it belongs.
  }
}
