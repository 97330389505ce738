/**
 * Why the gateway is not ready, by reason. `/ready` fails while any reason is set: shutting
 * down, a base URL that answers route_not_found, an open upstream circuit.
 */
export interface Readiness {
  set(reason: string, problem: string | null): void;
  /**
   * A reason read each time readiness is asked, for state that changes with time alone (an open
   * circuit closes when its time is up, whether or not any request has looked since).
   */
  watch(reason: string, problem: () => string | null): void;
  problems(): string[];
}

export function createReadiness(): Readiness {
  const problems = new Map<string, string>();
  const watched = new Map<string, () => string | null>();
  return {
    set(reason, problem) {
      if (problem === null) problems.delete(reason);
      else problems.set(reason, problem);
    },
    watch(reason, problem) {
      watched.set(reason, problem);
    },
    problems: () => {
      const all = [...problems.values()];
      for (const problem of watched.values()) {
        const now = problem();
        if (now !== null) all.push(now);
      }
      return all;
    },
  };
}
