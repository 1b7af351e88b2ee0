// The preload entry: `node -r forksafe/register app.js`, `node --import forksafe/register app.mjs`.
// The agent (agent/) decides; the patches (patches/) translate what the modules do; preload.ts
// puts the two together. FORKSAFE_MODE=off is decided before any of it is loaded.
import type { Config } from './agent/config';
import { startOff } from './agent/off';

function startAgent(config?: Config): void {
  // Required here, not imported: FORKSAFE_MODE=off never runs it.
  const { loadWithCodeCache } = require('./agent/code-cache') as typeof import('./agent/code-cache');
  const bundle = loadWithCodeCache<typeof import('./preload')>(`${__dirname}/preload.js`, module, require);
  bundle.exports.startAgent(config);
  bundle.saveCache();
}

if (process.env.FORKSAFE_MODE === 'off') startOff(startAgent);
else startAgent();
