import { ACME, GLOBEX, INITECH, USER_ORGANIZATION_IDS } from './organizations.js';

/**
 * The API tokens the simulator accepts. They are fixed strings (same every run) so a
 * developer can paste them into a GraphQL client; none of them is a secret anywhere.
 */
export const DEMO_TOKENS = {
  /** Organization-level token for acme (1,250 VMs) with every read scope. */
  acme: 'kp_demo_acme_org_read_7Hq2LmX9',
  /** Organization-level token for globex (12 VMs) with every read scope. */
  globex: 'kp_demo_globex_org_read_4Tz8WpK3',
  /** User-level token for Jane Marsh, a member of acme and globex. */
  user: 'kp_demo_user_jane_marsh_9Rb5NvC1',
  /** Organization-level token for globex without any virtual_machines scope. */
  noVmScope: 'kp_demo_globex_no_vm_scope_2Kd6QsF8',
  /** Organization-level token for initech, which is suspended. */
  suspended: 'kp_demo_initech_suspended_5Gm1XeJ7',
} as const;

/** Any token with this prefix (and something after it) is valid: it acts for globex and has its own budget. */
export const LOAD_TOKEN_PREFIX = 'kp_load_';

export const READ_SCOPES = ['virtual_machines:read', 'organizations:read', 'virtual_machine_packages:read'] as const;

/** Who a token acts for. */
export interface SimulatorIdentity {
  readonly kind: 'organization' | 'user';
  /** The token's own id, as `/users/current` reports it. */
  readonly tokenId: string;
  /** Organizations the token may see, in the order `/organizations` lists them. */
  readonly organizationIds: readonly string[];
  readonly scopes: readonly string[];
  /** Requests per rate-limit window unless overridden. */
  readonly rateLimit: number;
}

const IDENTITIES: ReadonlyMap<string, SimulatorIdentity> = new Map<string, SimulatorIdentity>([
  [DEMO_TOKENS.acme, { kind: 'organization', tokenId: 'apitoken_ZjljENUhJduRHHJE', organizationIds: [ACME.id], scopes: READ_SCOPES, rateLimit: 1000 }],
  [DEMO_TOKENS.globex, { kind: 'organization', tokenId: 'apitoken_YXg4JdpmrcXgGCJb', organizationIds: [GLOBEX.id], scopes: READ_SCOPES, rateLimit: 1000 }],
  [DEMO_TOKENS.user, { kind: 'user', tokenId: 'apitoken_W56eCuNGMGmSrCGI', organizationIds: USER_ORGANIZATION_IDS, scopes: READ_SCOPES, rateLimit: 1000 }],
  [
    DEMO_TOKENS.noVmScope,
    // The 200 limit matches the second value seen in real recordings.
    { kind: 'organization', tokenId: 'apitoken_ZEG8pSH4487q7J58', organizationIds: [GLOBEX.id], scopes: ['organizations:read', 'virtual_machine_packages:read'], rateLimit: 200 },
  ],
  [DEMO_TOKENS.suspended, { kind: 'organization', tokenId: 'apitoken_m1CiAhzCueQpBenQ', organizationIds: [INITECH.id], scopes: READ_SCOPES, rateLimit: 1000 }],
]);

export function identify(token: string): SimulatorIdentity | null {
  const known = IDENTITIES.get(token);
  if (known) return known;
  if (token.startsWith(LOAD_TOKEN_PREFIX) && token.length > LOAD_TOKEN_PREFIX.length) {
    return { kind: 'organization', tokenId: 'apitoken_load', organizationIds: [GLOBEX.id], scopes: READ_SCOPES, rateLimit: 1000 };
  }
  return null;
}

/** Holding any one of an endpoint's scopes is enough; an endpoint with none needs only a valid token. */
export function hasScope(identity: SimulatorIdentity, required: readonly string[]): boolean {
  return required.length === 0 || required.some((s) => identity.scopes.includes(s));
}
