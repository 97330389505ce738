import { afterEach } from 'vitest';

interface Closable {
  close(): unknown;
}

/**
 * Wraps a function that starts something closable so that everything it started is closed
 * after each test of the calling file. Call it once, at the top of the file.
 */
export function closedAfterEach<F extends (...args: never[]) => Closable | Promise<Closable>>(start: F): F {
  const open: Array<Closable | Promise<Closable>> = [];
  afterEach(async () => {
    for (const started of open.splice(0)) {
      // A start that failed (a test may expect it to) left nothing to close.
      const value = await Promise.resolve(started).catch(() => null);
      await value?.close();
    }
  });
  return ((...args: Parameters<F>) => {
    const started = start(...args);
    open.push(started);
    return started;
  }) as F;
}
