/**
 * Checks of Katapult's 2xx answers against the shape the gateway reads. The DTO types are a
 * promise to the compiler only: without these, an answer with a list missing or a number sent
 * as text fails deep in a resolver as an internal error, after the cache has kept it as good.
 *
 * Each check looks at the fields the gateway reads, and only at those, in place (nothing is
 * copied): the answer the cache keeps is the one checked, once, on the cold path (about 20 µs
 * for a page of 200 VMs, against some 280 µs to parse it). A field the reference marks required
 * must be there with its type; a nullable one may be null or left out (Apia may skip a null,
 * and the gateway reads a missing one as null); fields real answers are known to leave out (a
 * data center's country in lists, Apia's shorter package list, an organization's activation
 * time) may be absent, and are read from the object's own record when wanted. A field that is
 * there is always of its type.
 */

/** Where an answer departs from the shape the gateway reads, and how. */
class ShapeMismatch {
  /** Field names and item indexes from the top of the body; filled in on the way out, so only a mismatch pays for it. */
  readonly path: Array<string | number> = [];
  readonly found: string;
  constructor(
    public expected: string,
    value: unknown,
  ) {
    this.found = describeValue(value);
  }

  at(segment: string | number): this {
    this.path.unshift(segment);
    return this;
  }

  /** E.g. `virtual_machines[3].zone: expected an object, found null`. Names types, never values. */
  describe(): string {
    let where = '';
    for (const segment of this.path) where += typeof segment === 'number' ? `[${segment}]` : where ? `.${segment}` : segment;
    return `${where || 'the body'}: expected ${this.expected}, found ${this.found}`;
  }
}

/** What is wrong with a value, or null when it has the shape. */
type Mismatch = ShapeMismatch | null;
type ShapeCheck = (value: unknown) => Mismatch;

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'number' && !Number.isInteger(value)) return 'a fractional number';
  return `a ${typeof value}`;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

// Scalars: required, nullable (null or left out), or left out but never null. A field whose
// GraphQL field may be null is read as nullable, whatever the reference says: a null there
// harms nothing, and refusing the whole answer for it would.
function scalarChecks(expected: string, fits: (value: unknown) => boolean): [required: ShapeCheck, orNull: ShapeCheck, ifThere: ShapeCheck] {
  return [
    (value) => (fits(value) ? null : new ShapeMismatch(expected, value)),
    (value) => (value == null || fits(value) ? null : new ShapeMismatch(`${expected} or null`, value)),
    (value) => (value === undefined || fits(value) ? null : new ShapeMismatch(expected, value)),
  ];
}
const [string, stringOrNull, stringIfThere] = scalarChecks('a string', (value) => typeof value === 'string');
const [integer, integerOrNull] = scalarChecks('an integer', Number.isInteger);
// Unix seconds a date can hold (JavaScript's ±8.64e15 ms): a time beyond it could not be answered.
const [unixTime, unixTimeOrNull, unixTimeIfThere] = scalarChecks('a time in Unix seconds', (value) => Number.isInteger(value) && Math.abs(value as number) <= 8.64e12);
// What a GraphQL Int can hold (32 bits): a count beyond it could not be answered.
const [int32, int32OrNull, int32IfThere] = scalarChecks('a 32-bit integer', (value) => Number.isInteger(value) && Math.abs(value as number) <= 0x7fffffff);
const [boolean, booleanOrNull, booleanIfThere] = scalarChecks('a boolean', (value) => typeof value === 'boolean');

/**
 * An object whose fields `fields` checks, each by name (`value.id`, not `value[name]`): named
 * reads of objects JSON.parse gave one layout are several times faster than reads by a computed
 * key, which is most of what a check costs.
 */
function object(fields: (value: Record<string, unknown>) => ShapeMismatch | null | undefined): ShapeCheck {
  return (value) => (isRecord(value) ? (fields(value) ?? null) : new ShapeMismatch('an object', value));
}

/** `check`, or null, or left out. */
function orNull(check: ShapeCheck): ShapeCheck {
  return (value) => {
    if (value == null) return null;
    const mismatch = check(value);
    if (mismatch && mismatch.path.length === 0) mismatch.expected += ' or null';
    return mismatch;
  };
}

function listOf(check: ShapeCheck): ShapeCheck {
  return (value) => {
    if (!Array.isArray(value)) return new ShapeMismatch('an array', value);
    for (let index = 0; index < value.length; index++) {
      const mismatch = check(value[index]);
      if (mismatch) return mismatch.at(index);
    }
    return null;
  };
}

const pagination = object(
  (v) =>
    integer(v.current_page)?.at('current_page') ??
    integerOrNull(v.total_pages)?.at('total_pages') ??
    int32OrNull(v.total)?.at('total') ??
    integer(v.per_page)?.at('per_page') ??
    boolean(v.large_set)?.at('large_set'),
);

/** The id and name every Katapult object carries, first of its fields. */
const idAndName = (v: Record<string, unknown>) => string(v.id)?.at('id') ?? string(v.name)?.at('name');
/** A data center's or GPU type's id, name and permalink: all either says of itself where it is only named. */
const namedWithPermalink = (v: Record<string, unknown>) => idAndName(v) ?? stringOrNull(v.permalink)?.at('permalink');
/** An object named only (a package group, a VM list's hypervisor), or null. */
const namedOrNull = orNull(object(idAndName));

const countryCodes = (v: Record<string, unknown>) =>
  stringOrNull(v.iso_code2)?.at('iso_code2') ?? stringOrNull(v.iso_code3)?.at('iso_code3') ?? stringOrNull(v.time_zone)?.at('time_zone') ?? booleanOrNull(v.eu)?.at('eu');
const fullCountry = object((v) => idAndName(v) ?? countryCodes(v));
/** Lists give a country's id and name; one that carries its codes is read as the full record (see `countryModel`). */
const country = object((v) => idAndName(v) ?? ('iso_code2' in v ? countryCodes(v) : null));

const countryOrNull = orNull(country);
const dataCenter = object((v) => namedWithPermalink(v) ?? countryOrNull(v.country)?.at('country'));
/** A data center inside a zone or a GPU type: real lists leave its country out (`/data_centers` has it). */
const dataCenterRef = object((v) => namedWithPermalink(v) ?? (v.country === undefined ? null : country(v.country)?.at('country')));

const zone = object((v) => namedWithPermalink(v) ?? dataCenterRef(v.data_center)?.at('data_center'));

// Nullable items in the OpenAPI document, a nullable list in Apia's schema; left out of a VM's GPU type.
const gpuTypeDataCenters = orNull(listOf(orNull(dataCenterRef)));
const gpuTypeFields = (v: Record<string, unknown>) =>
  namedWithPermalink(v) ??
  stringOrNull(v.manufacturer)?.at('manufacturer') ??
  int32OrNull(v.memory_in_gb)?.at('memory_in_gb') ??
  stringOrNull(v.memory_type)?.at('memory_type') ??
  gpuTypeDataCenters(v.data_centers)?.at('data_centers');
const gpuType = object(gpuTypeFields);
/** The VM list names a GPU type only; one that says more is read as the full type (see `gpuTypeModel`). */
const gpuTypeInList = object((v) => ('manufacturer' in v ? gpuTypeFields(v) : namedWithPermalink(v)));

/** A package's icon: its URL, and its file's details, which a list may leave out (`text`, `whole` say how they are checked). */
const iconWith = (text: ShapeCheck, whole: ShapeCheck) =>
  orNull(
    object(
      (v) =>
        string(v.url)?.at('url') ??
        text(v.file_name)?.at('file_name') ??
        text(v.file_type)?.at('file_type') ??
        whole(v.file_size)?.at('file_size') ??
        text(v.digest)?.at('digest'),
    ),
  );
const iconOrNull = iconWith(string, int32);
const iconInList = iconWith(stringIfThere, int32IfThere);
/**
 * A package's fields, as its own record and a list give them alike but for `privacy` (a list may
 * leave it out) and the icon (a list gives its URL only). `group` is in the OpenAPI document and
 * recorded answers but not in Apia's object, so it may be left out.
 */
const packageFields = (privacy: ShapeCheck, icon: ShapeCheck) => (v: Record<string, unknown>) =>
  string(v.id)?.at('id') ??
  string(v.name)?.at('name') ??
  stringOrNull(v.permalink)?.at('permalink') ??
  int32OrNull(v.cpu_cores)?.at('cpu_cores') ??
  int32OrNull(v.ipv4_addresses)?.at('ipv4_addresses') ??
  int32OrNull(v.memory_in_gb)?.at('memory_in_gb') ??
  int32OrNull(v.storage_in_gb)?.at('storage_in_gb') ??
  int32OrNull(v.monthly_bandwidth_allowance_in_gb)?.at('monthly_bandwidth_allowance_in_gb') ??
  privacy(v.privacy)?.at('privacy') ??
  icon(v.icon)?.at('icon') ??
  booleanOrNull(v.use_dedicated_cpus)?.at('use_dedicated_cpus') ??
  namedOrNull(v.group)?.at('group');
/** A package's own record, and a VM's package. */
const packageRecord = object(packageFields(string, iconOrNull));
/**
 * A package in a list: Apia's list endpoint names fewer fields, and only an icon's URL. What is
 * missing is read from the package's own record; what is there is read as it is (a null, where
 * the GraphQL field may be null, as null).
 */
const packageInList = object(packageFields(stringIfThere, iconInList));

// Apia's organization object has no `activated_at` (the reference lists it): left out, it is read as null.
const organization = object(
  (v) =>
    string(v.id)?.at('id') ??
    string(v.name)?.at('name') ??
    string(v.sub_domain)?.at('sub_domain') ??
    string(v.infrastructure_domain)?.at('infrastructure_domain') ??
    unixTime(v.created_at)?.at('created_at') ??
    unixTimeOrNull(v.activated_at)?.at('activated_at') ??
    boolean(v.suspended)?.at('suspended') ??
    boolean(v.managed)?.at('managed'),
);
/** An organization inside another record (a VM's, the current user's): a field it leaves out is read from the organization's own. */
const organizationWithin = object(
  (v) =>
    string(v.id)?.at('id') ??
    stringIfThere(v.name)?.at('name') ??
    stringIfThere(v.sub_domain)?.at('sub_domain') ??
    stringIfThere(v.infrastructure_domain)?.at('infrastructure_domain') ??
    unixTimeIfThere(v.created_at)?.at('created_at') ??
    unixTimeOrNull(v.activated_at)?.at('activated_at') ??
    booleanIfThere(v.suspended)?.at('suspended') ??
    booleanIfThere(v.managed)?.at('managed'),
);

const vmFields = (v: Record<string, unknown>) =>
  string(v.id)?.at('id') ??
  string(v.name)?.at('name') ??
  string(v.hostname)?.at('hostname') ??
  string(v.fqdn)?.at('fqdn') ??
  unixTime(v.created_at)?.at('created_at') ??
  zone(v.zone)?.at('zone');

const gpuTypeInListOrNull = orNull(gpuTypeInList);
const packageName = orNull(object((v) => string(v.name)?.at('name')));
const addressesInList = listOf(object((v) => string(v.address)?.at('address')));
const virtualMachineInList = object(
  (v) =>
    vmFields(v) ??
    packageName(v.package)?.at('package') ??
    gpuTypeInListOrNull(v.gpu_type)?.at('gpu_type') ??
    addressesInList(v.ip_addresses)?.at('ip_addresses') ??
    // Conditional: absent from every recorded real answer.
    namedOrNull(v.hypervisor)?.at('hypervisor'),
);

const addresses = listOf(
  object(
    (v) =>
      stringOrNull(v.id)?.at('id') ??
      string(v.address)?.at('address') ??
      stringOrNull(v.reverse_dns)?.at('reverse_dns') ??
      booleanOrNull(v.vip)?.at('vip') ??
      stringOrNull(v.label)?.at('label') ??
      stringOrNull(v.address_with_mask)?.at('address_with_mask'),
  ),
);
const hypervisor = orNull(object((v) => idAndName(v) ?? stringOrNull(v.ip_address)?.at('ip_address')));
const tagNames = orNull(listOf(string));
const packageOrNull = orNull(packageRecord);
const gpuTypeOrNull = orNull(gpuType);
const virtualMachine = object(
  (v) =>
    vmFields(v) ??
    stringOrNull(v.description)?.at('description') ??
    stringOrNull(v.state)?.at('state') ??
    organizationWithin(v.organization)?.at('organization') ??
    packageOrNull(v.package)?.at('package') ??
    gpuTypeOrNull(v.gpu_type)?.at('gpu_type') ??
    int32OrNull(v.memory_in_gb)?.at('memory_in_gb') ??
    int32OrNull(v.cpu_cores)?.at('cpu_cores') ??
    booleanOrNull(v.use_dedicated_cpus)?.at('use_dedicated_cpus') ??
    tagNames(v.tag_names)?.at('tag_names') ??
    addresses(v.ip_addresses)?.at('ip_addresses') ??
    hypervisor(v.hypervisor)?.at('hypervisor'),
);
const annotations = orNull(listOf(object((v) => string(v.key)?.at('key') ?? stringOrNull(v.value)?.at('value'))));

const user = object((v) => string(v.id)?.at('id') ?? string(v.first_name)?.at('first_name') ?? string(v.last_name)?.at('last_name') ?? stringOrNull(v.avatar_url)?.at('avatar_url'));

const virtualMachines = listOf(virtualMachineInList);
const packagesInList = listOf(packageInList);
const organizations = listOf(organization);
const organizationsWithin = listOf(organizationWithin);
const dataCenters = listOf(dataCenter);
const zones = listOf(zone);
const countries = listOf(country);
const gpuTypes = listOf(gpuType);

/** The answer of each endpoint the gateway calls (`katapult-data.ts`), by path. */
const ANSWERS: Readonly<Record<string, ShapeCheck>> = {
  '/organizations/organization/virtual_machines': object((b) => pagination(b.pagination)?.at('pagination') ?? virtualMachines(b.virtual_machines)?.at('virtual_machines')),
  '/virtual_machines/virtual_machine': object((b) => virtualMachine(b.virtual_machine)?.at('virtual_machine') ?? annotations(b.annotations)?.at('annotations')),
  '/virtual_machine_packages': object((b) => pagination(b.pagination)?.at('pagination') ?? packagesInList(b.virtual_machine_packages)?.at('virtual_machine_packages')),
  '/virtual_machine_packages/virtual_machine_package': object((b) => packageRecord(b.virtual_machine_package)?.at('virtual_machine_package')),
  '/organizations': object((b) => organizations(b.organizations)?.at('organizations')),
  '/organizations/organization': object((b) => organization(b.organization)?.at('organization')),
  '/data_centers': object((b) => dataCenters(b.data_centers)?.at('data_centers')),
  '/data_centers/data_center': object((b) => dataCenter(b.data_center)?.at('data_center')),
  '/zones': object((b) => zones(b.zones)?.at('zones')),
  '/zones/zone': object((b) => zone(b.zone)?.at('zone')),
  '/countries': object((b) => pagination(b.pagination)?.at('pagination') ?? countries(b.countries)?.at('countries')),
  '/countries/country': object((b) => fullCountry(b.country)?.at('country')),
  '/gpu_types': object((b) => pagination(b.pagination)?.at('pagination') ?? gpuTypes(b.gpu_types)?.at('gpu_types')),
  '/gpu_types/gpu_type': object((b) => gpuType(b.gpu_type)?.at('gpu_type')),
  '/users/current': object((b) => user(b.user)?.at('user') ?? organizationsWithin(b.organizations)?.at('organizations')),
};

/** Whether the gateway knows the shape of `path`'s answer. */
export const knowsAnswerShape = (path: string): boolean => Object.hasOwn(ANSWERS, path);

/**
 * What is wrong with a 2xx answer of `path`, in words for a client and a log (field names and
 * types, never values), or null when it has the shape the gateway reads (or `path` is not an
 * endpoint the gateway knows). An error envelope sent with a success status is called that,
 * rather than by the fields it lacks.
 */
export function answerShapeFault(path: string, body: unknown): string | null {
  const check = Object.hasOwn(ANSWERS, path) ? ANSWERS[path]! : undefined;
  const mismatch = check ? check(body) : null;
  if (!mismatch) return null;
  if (isRecord(body) && isRecord(body.error)) return 'an error envelope, with a success status';
  return mismatch.describe();
}
