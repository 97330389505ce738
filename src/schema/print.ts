import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { printGatewaySchema } from './index.js';

// `npm run schema`: rewrites the committed schema.graphql from the Pothos schema.
const target = fileURLToPath(new URL('../../schema.graphql', import.meta.url));
writeFileSync(target, printGatewaySchema());
console.log(`wrote ${target}`);
