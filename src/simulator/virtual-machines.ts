import type {
  GpuTypeSummaryDto,
  IpAddressDto,
  KeyValueDto,
  OrganizationDto,
  TagDto,
  TrashObjectDto,
  VirtualMachineDto,
  VirtualMachineGroupDto,
  VirtualMachinePackageDto,
  VirtualMachineStateDto,
  ZoneDto,
} from '../upstream/dto.js';
import { GPU_TYPES, NETWORKS, ZONES } from './catalogue.js';
import { pick, randomId, randomString, type Random } from './random.js';

/** One simulated VM: the full wire object plus what the wire shows only conditionally. */
export interface SimulatorVirtualMachine {
  /** The full single-VM body, without `hypervisor` (added only when that option is on). */
  readonly virtualMachine: VirtualMachineDto;
  readonly hypervisor: { id: string; name: string; ip_address: string };
  readonly annotations: readonly KeyValueDto[];
  /** Set for a VM in the trash: lookups answer 406 and lists leave it out. */
  readonly trash: TrashObjectDto | null;
}

export interface GenerateVirtualMachinesOptions {
  /** The owner. */
  organization: OrganizationDto;
  /** How many live VMs to make. */
  count: number;
  /** How many trashed VMs to add after the live ones. */
  trashed: number;
  /** Packages the organization may use; the first private one is given to the second VM. */
  packages: readonly VirtualMachinePackageDto[];
  /** Shared per-data-center address counters, so addresses never repeat across organizations. */
  addressCounters: Map<string, number>;
}

const ROLES = ['web', 'api', 'db', 'cache', 'worker', 'queue', 'search', 'mail', 'vpn', 'monitor', 'build', 'proxy', 'lb'] as const;
const ROLE_LABELS: Record<(typeof ROLES)[number], string> = {
  web: 'Web server', api: 'API server', db: 'Database', cache: 'Cache', worker: 'Worker', queue: 'Queue broker', search: 'Search node',
  mail: 'Mail relay', vpn: 'VPN gateway', monitor: 'Monitoring', build: 'Build runner', proxy: 'Reverse proxy', lb: 'Load balancer',
};
const STATES: readonly VirtualMachineStateDto[] = ['stopped', 'failed', 'allocated', 'migrating', 'starting', 'stopping', 'shutting_down'];
const ENVIRONMENTS = ['production', 'production', 'production', 'staging', 'staging', 'development'] as const;
const TEAMS = ['platform', 'payments', 'data', 'web'] as const;
const LONDON_ZONE = ZONES[0] as ZoneDto;
/** Where trashed objects stay until (2027-01-01). */
const KEEP_UNTIL = 1798761600;

export function generateVirtualMachines(random: Random, options: GenerateVirtualMachinesOptions): SimulatorVirtualMachine[] {
  const { organization: org, packages } = options;
  const publicPackages = packages.filter((p) => p.privacy === 'public');
  const privatePackage = packages.find((p) => p.privacy === 'private');
  const perRole = new Map<string, number>();
  const groups: VirtualMachineGroupDto[] = ['Web tier', 'Database cluster'].map((name, i) => ({
    id: randomId(random, 'vmgrp'), name, segregate: i === 1, auto_segregate: false, created_at: org.created_at + 86400 * (i + 1),
  }));
  const tags: TagDto[] = (
    [['production', 'green'], ['pci', 'red'], ['legacy', 'pastel_light_gray']] as const
  ).map(([name, color], i) => ({ id: randomId(random, 'tag'), name, color, created_at: org.created_at + 3600 * (i + 2) }));

  const vms: SimulatorVirtualMachine[] = [];
  let createdAt = (org.activated_at ?? org.created_at) + 7200;
  for (let i = 0; i < options.count + options.trashed; i++) {
    const role = pick(random, ROLES);
    const n = (perRole.get(role) ?? 0) + 1;
    perRole.set(role, n);
    const hostname = `${role}-${String(n).padStart(3, '0')}`;
    const id = randomId(random, 'vm');
    createdAt += 3600 + Math.floor(random() * 90000);
    // Mostly public packages; a few custom-sized VMs have none; the second VM shows off the
    // organization's private package (in London, where its GPU exists).
    const showcase = i === 1 && privatePackage !== undefined;
    const zone = showcase ? LONDON_ZONE : pick(random, ZONES);
    const pkg = showcase ? privatePackage : random() < 0.05 ? null : pick(random, publicPackages);
    const gpuChoices = GPU_TYPES.filter((g) => g.data_centers.some((d) => d.id === zone.data_center.id));
    const wantsGpu = (showcase && pkg?.group?.name === 'GPU') || random() < 0.04;
    const gpu = wantsGpu ? (gpuChoices[0] ?? null) : null;
    const gpuSummary: GpuTypeSummaryDto | null = gpu
      ? { id: gpu.id, name: gpu.name, manufacturer: gpu.manufacturer, memory_in_gb: gpu.memory_in_gb, memory_type: gpu.memory_type, permalink: gpu.permalink }
      : null;

    const roll = random();
    const state: VirtualMachineStateDto = roll < 0.8 ? 'started' : roll < 0.92 ? 'stopped' : pick(random, STATES);
    const envRoll = random();
    const annotations: KeyValueDto[] = [];
    if (envRoll < 0.9) annotations.push({ key: 'env', value: pick(random, ENVIRONMENTS) });
    if (envRoll < 0.55) annotations.push({ key: 'team', value: pick(random, TEAMS) });
    const vmTags = random() < 0.3 ? tags.filter(() => random() < 0.5) : [];

    const virtualMachine: VirtualMachineDto = {
      id,
      name: `${ROLE_LABELS[role]} ${String(n).padStart(3, '0')}`,
      hostname,
      fqdn: `${hostname}.${org.infrastructure_domain}`,
      description: random() < 0.25 ? `Runs the ${role} tier for ${org.name}` : null,
      created_at: createdAt,
      initial_root_password: random() < 0.2 ? null : `sim-${randomString(random, 20)}`,
      state,
      zone,
      organization: org,
      group: random() < 0.1 ? pick(random, groups) : null,
      package: pkg,
      attached_iso: random() < 0.01 ? UBUNTU_ISO : null,
      memory_in_gb: pkg?.memory_in_gb ?? 8,
      cpu_cores: pkg?.cpu_cores ?? 4,
      use_dedicated_cpus: pkg?.use_dedicated_cpus ?? false,
      gpu_type: gpuSummary,
      gpus: gpuSummary ? [{ id: randomId(random, 'vmgpu'), status: 'attached', pending_action: null, available: true, type: gpuSummary }] : [],
      tags: vmTags,
      tag_names: vmTags.map((t) => t.name),
      ip_addresses: [],
    };
    const addressCount = random() < 0.1 ? 2 : 1;
    for (let a = 0; a < addressCount; a++) virtualMachine.ip_addresses.push(allocateAddress(random, zone, id, options.addressCounters));

    const hv = Math.floor(random() * 12) + 1;
    // Every simulated data center has a permalink; the type allows null, as Katapult does.
    const site = zone.data_center.permalink ?? zone.data_center.id.toLowerCase();
    vms.push({
      virtualMachine,
      hypervisor: { id: `hv_${site.replace(/-/g, '')}${String(hv).padStart(5, '0')}`, name: `hv-${site}-${String(hv).padStart(2, '0')}`, ip_address: `10.${ZONES.indexOf(zone) + 10}.0.${hv}` },
      annotations,
      trash: i >= options.count ? { id: randomId(random, 'trsh'), keep_until: KEEP_UNTIL, object_id: id, object_type: 'VirtualMachine' } : null,
    });
  }
  return vms;
}

const UBUNTU_ISO: VirtualMachineDto['attached_iso'] = {
  id: 'iso_tYh5Xj8TPQxjq4i9',
  name: 'Ubuntu 24.04 Server (amd64)',
  operating_system: { id: 'os_DoV8gz4FkQ1okTBG', name: 'Ubuntu 24.04', badge: null },
};

function allocateAddress(random: Random, zone: ZoneDto, vmId: string, counters: Map<string, number>): IpAddressDto {
  const entry = NETWORKS.get(zone.data_center.id);
  if (!entry) throw new Error(`no network for ${zone.data_center.permalink}`);
  const n = counters.get(zone.data_center.id) ?? 0;
  counters.set(zone.data_center.id, n + 1);
  const [a, b, c] = entry.prefix.split('.').map(Number) as [number, number, number];
  const address = `${a}.${b}.${c + Math.floor(n / 250)}.${(n % 250) + 2}`;
  return {
    id: randomId(random, 'ip'),
    address,
    reverse_dns: `${address.replace(/\./g, '-')}.${zone.data_center.permalink}.rdns.katapult.cloud`,
    vip: false,
    label: null,
    address_with_mask: `${address}/24`,
    network: entry.network,
    allocation_id: vmId,
    allocation_type: 'VirtualMachine',
  };
}
