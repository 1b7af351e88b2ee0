import { basename, dirname } from 'node:path';

/**
 * The package's dist/ directory, whether this code runs from its own file in dist/agent/
 * (the API) or from the single-file dist/register.js (the preload, bundled to start fast).
 */
export const distDir = basename(__dirname) === 'dist' ? __dirname : dirname(__dirname);
