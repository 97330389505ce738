import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `npm run bench`: installs the bench's own dependencies (peers and load generator, kept out of
 * the gateway's install) when they are missing, then runs the benchmark. See bench/README.md.
 */
const benchDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(benchDir, '..');

if (!existsSync(resolve(benchDir, 'node_modules'))) {
  console.log('bench: bench/node_modules is missing, running npm ci --prefix bench');
  const install = spawnSync('npm', ['ci', '--prefix', benchDir, '--no-audit', '--no-fund'], { cwd: repoRoot, stdio: 'inherit' });
  if (install.status !== 0) {
    console.error('bench: npm ci --prefix bench failed');
    process.exit(1);
  }
}

const { main } = await import('./harness/main.js');
await main(repoRoot, benchDir);
