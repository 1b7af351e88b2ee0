// `forksafe/strict`: one line that makes a test run strict while production keeps log mode.
//   Jest and Vitest:  setupFiles: ['forksafe/strict']
//   Mocha:            --require forksafe/strict   (or require: ['forksafe/strict'] in .mocharc)
// The agent must already run in the process (NODE_OPTIONS="-r forksafe/register", or
// `forksafe run`); without it configure() throws an error that says how to load it.
import { configure } from './index';

configure({ mode: 'strict' });
