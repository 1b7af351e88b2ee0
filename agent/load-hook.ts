import Module = require('node:module');
import { sep } from 'node:path';

/** Where a loaded file sits: `<basedir>/<file>`, inside the package `name`. */
export interface PackageFile {
  name: string;
  basedir: string;
  /** Relative to the package, with `/` separators: `lib/client.js`. */
  file: string;
}

/** Called once per file of a package, on its first load; returns the exports to hand out. */
export type OnLoad = (exports: unknown, where: PackageFile) => unknown;

const NM = `${sep}node_modules${sep}`;

function packageFile(filename: string): PackageFile | undefined {
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

type Loader = (module: NodeJS.Module, filename: string) => void;

/**
 * Sees every CommonJS `.js` file of a package as it is first loaded, and may replace its
 * exports before any `require` (or ESM `import` of CommonJS, which loads the same way)
 * returns them. This is what require-in-the-middle's `internals: true` gives, for a
 * filename test per loaded file instead of a resolution per `require` call, and without
 * its `debug` dependency, which alone cost 12 to 17 ms of start-up here.
 */
export function hookFirstLoads(onLoad: OnLoad): () => void {
  const extensions = (Module as unknown as { _extensions: Record<string, Loader> })._extensions;
  const original = extensions['.js']!;
  let active = true;
  const loader: Loader = function (this: unknown, module, filename) {
    original.call(this, module, filename);
    const where = active ? packageFile(filename) : undefined;
    if (where) {
      const exports = onLoad(module.exports, where);
      if (exports !== module.exports) module.exports = exports;
    }
  };
  extensions['.js'] = loader;
  return () => {
    active = false;
    // Put the original back only if nobody wrapped on top of us since.
    if (extensions['.js'] === loader) extensions['.js'] = original;
  };
}
