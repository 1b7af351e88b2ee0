// Every figure of `npm run bench`, in the order of the table.
import { disconnectCurve, forkOnline, forkUnderLoad } from './forks';
import { residentMemory } from './memory';
import { ipcSend, spawnLoop } from './processes';
import { queryLoop } from './queries';
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
];

