// The versions each patch supports: data, read by the patches and by the tests alike.
// A version outside its range is left alone, with one debug line.
export const SUPPORTED = {
  pg: '>=8 <9',
  'pg-pool': '>=3 <4',
  mysql2: '>=3 <4',
  // mysql2 3.11.5 moved Connection's methods to lib/base/connection.js
  // (https://github.com/sidorares/node-mysql2/pull/3081).
  'mysql2 base connection': '>=3.11.5 <4',
  'mysql2 flat connection': '>=3 <3.11.5',
} as const;
