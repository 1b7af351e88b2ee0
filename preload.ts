// The agent with every patch: what the preload entry (register.ts) starts. Bundled on its
// own (dist/preload.js), so that FORKSAFE_MODE=off never even parses it.
import { start } from './agent/agent';
import type { Config } from './agent/config';
import { patches } from './patches';

export function startAgent(config?: Config): void {
  start(patches, config);
}
