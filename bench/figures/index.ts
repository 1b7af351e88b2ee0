// Every figure of `npm run bench`, in the order of the table.
import { disconnectCurve, forkOnline, forkUnderLoad } from './forks';
import { residentMemory } from './memory';
import { ipcSend, spawnLoop } from './processes';
import { instructionsEsmHook } from './esm-hook';
import { instructionsConnect, instructionsSend, instructionsSpawn, instructionsSpawnEnv, instructionsSpawnSync, instructionsStartup } from './instructions';
import { queryLoop } from './queries';
import { reportRender } from './report';
import { jestSuite } from './jest';
import { connectLoop, disconnectScale, doorCheck, spawnScale } from './scale';
import { startupDrivers, startupEmpty } from './startup';
import type { Figure } from './types';

export type { Figure, FigureResult, Row, Verdict } from './types';

export const figures: Figure[] = [
  startupEmpty,
  startupDrivers,
  queryLoop('pg'),
  queryLoop('mysql2'),
  forkOnline('child_process', 0),
  forkOnline('child_process', 20),
  forkOnline('cluster', 0),
  forkOnline('cluster', 20),
  disconnectCurve,
  forkUnderLoad,
  spawnLoop,
  ipcSend('objects'),
  ipcSend('sockets'),
  ipcSend('servers'),
  residentMemory,
  doorCheck,
  spawnScale,
  disconnectScale,
  connectLoop,
  reportRender,
  jestSuite,
  instructionsStartup,
  instructionsSpawn,
  instructionsSpawnEnv,
  instructionsSpawnSync,
  instructionsSend,
  instructionsConnect,
  instructionsEsmHook,
];

/**
 * What a run measures: `--instructions` the callgrind counts alone; `--quick` everything
 * else (a count takes seconds per process); a full run everything.
 */
export function selectFigures(options: { quick: boolean; instructions: boolean; only?: string[] }): Figure[] {
  if (options.only) return figures.filter((f) => options.only!.includes(f.id));
  if (options.instructions) return figures.filter((f) => f.group === 'instructions');
  return options.quick ? figures.filter((f) => f.group !== 'instructions') : figures;
}

