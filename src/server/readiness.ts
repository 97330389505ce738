/**
 * Why the gateway is not ready, by reason. `/ready` fails while any reason is set: shutting
 * down, a base URL that answers route_not_found, an open upstream circuit.
 */
export interface Readiness {
  set(reason: string, problem: string | null): void;
  problems(): string[];
}

export function createReadiness(): Readiness {
  const problems = new Map<string, string>();
  return {
    set(reason, problem) {
      if (problem === null) problems.delete(reason);
      else problems.set(reason, problem);
    },
    problems: () => [...problems.values()],
  };
}
