import { sep } from 'node:path';

/** Where a loaded file sits: `<basedir>/<file>`, inside the package `name`. */
export interface PackageFile {
  name: string;
  basedir: string;
  /** Relative to the package, with `/` separators: `lib/client.js`. */
  file: string;
}

const NM = `${sep}node_modules${sep}`;

/**
 * The package a file belongs to, from its path (the last `node_modules` in it). The same
 * parse as the CommonJS load hook's, for files another module system loads (Jest's
 * sandbox): the load hook can import it from here when it is next rewritten.
 */
export function packageFileOf(filename: string): PackageFile | undefined {
  const at = filename.lastIndexOf(NM);
  if (at === -1) return undefined;
  const parts = filename.slice(at + NM.length).split(sep);
  const size = parts[0]!.startsWith('@') ? 2 : 1;
  if (parts.length <= size) return undefined;
  return {
    name: parts.slice(0, size).join('/'),
    basedir: filename.slice(0, at + NM.length) + parts.slice(0, size).join(sep),
    file: parts.slice(size).join('/'),
  };
}
