/** Writes deploy/helm/envoy-bandit/values.schema.json (run from the repository root after `npm run build`). */
import { writeFileSync } from 'node:fs';
import { helmValuesSchema } from './values-schema.js';

export const VALUES_SCHEMA_PATH = 'deploy/helm/envoy-bandit/values.schema.json';

writeFileSync(VALUES_SCHEMA_PATH, `${JSON.stringify(helmValuesSchema(), null, 2)}\n`);
console.log(`wrote ${VALUES_SCHEMA_PATH}`);
