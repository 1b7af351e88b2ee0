// The versions each patch supports: data, read by the patches and by the tests alike.
// A version outside its range is left alone, with one debug line.
export const SUPPORTED = {
  pg: '>=8 <9',
  'pg-pool': '>=3 <4',
  mysql2: '>=3 <4',
} as const;
