// The agent with every patch: what the preload entry (register.ts) starts. Bundled on its
// own (dist/preload.js), so that FORKSAFE_MODE=off never even parses it.
import { start } from './agent/agent';
import { saveCodeCache, sayHowCompiled } from './agent/code-cache-save';
import type { CodeCacheState } from './agent/code-cache';
import type { Config } from './agent/config';
import { patches } from './patches';

/** `compiled`: how register.js loaded this bundle; a cache it lacked is written once the agent has started. */
export function startAgent(config?: Config, compiled?: CodeCacheState): void {
  if (compiled) sayHowCompiled(compiled);
  start(patches, config);
  if (compiled) saveCodeCache(compiled);
}
