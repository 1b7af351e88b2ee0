'use strict';
// The child of fork-under-load.js: exits at once (an unused IPC channel does not keep it alive).
