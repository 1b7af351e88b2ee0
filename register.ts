// The preload entry: `node -r forksafe/register app.js`, `node --import forksafe/register app.mjs`.
// The agent (agent/) decides; the patches (patches/) translate what the modules do; preload.ts
// puts the two together. FORKSAFE_MODE=off is decided before any of it is loaded.
import type { Config } from './agent/config';
import { startOff } from './agent/off';

function startAgent(config?: Config): void {
  (require('./preload.js') as typeof import('./preload')).startAgent(config);
}

if (process.env.FORKSAFE_MODE === 'off') startOff(startAgent);
else startAgent();
