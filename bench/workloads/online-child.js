'use strict';
// The child of fork-online.js: says it is ready as soon as it runs, then exits.
process.send({ ready: true }, () => process.exit(0));
