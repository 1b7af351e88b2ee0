// The preload entry: `node -r forksafe/register app.js`, `node --import forksafe/register app.mjs`.
// The agent (agent/) decides; the patches (patches/) translate what the modules do; preload.ts
// puts the two together, in a bundle compiled from V8's code cache (agent/code-cache.ts).
// FORKSAFE_MODE=off is decided before any of it is loaded: a stand-in API (agent/off.ts,
// bundled apart as off.js) starts the agent only if the application asks for it.
import { loadWithCodeCache } from './agent/code-cache';
import type { Config } from './agent/config';

function startAgent(config?: Config): void {
  const bundle = loadWithCodeCache<typeof import('./preload')>(`${__dirname}/preload.js`, module, require);
  bundle.exports.startAgent(config, bundle);
}

if (process.env.FORKSAFE_MODE === 'off') (require('./off.js') as typeof import('./agent/off')).startOff(startAgent);
else startAgent();
