// The preload entry: `node -r forksafe/register app.js`, `node --import forksafe/register app.mjs`.
// The agent (agent/) decides; the patches (patches/) translate what the modules do.
import { start } from './agent/agent';
import { patches } from './patches';

start(patches);
