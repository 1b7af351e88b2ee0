'use strict';
// An empty preload: what `-r` of any file costs, the floor for FORKSAFE_MODE=off.
