import { syncBuiltinESMExports } from 'node:module';
import { debug, internalError } from './boundary';
import { fileClaimer, hookFirstLoads, type Claim } from './load-hook';
import { packageJsonAt } from './packages';
import { satisfies } from './versions';

/** A patch of one Node builtin (`child_process`, `cluster`) or of `process`. */
export interface BuiltinPatch {
  readonly builtin: string;
  /** The name FORKSAFE_DISABLE and the debug log know it by; default: `builtin`. */
  readonly integration?: string;
  patch(exports: any): void;
  unpatch(exports: any): void;
}

/** A patch of one file of an npm package, applied when the application requires it. */
export interface ModulePatch {
  /** The npm package, e.g. `pg`. */
  readonly package: string;
  /** The name FORKSAFE_DISABLE and the debug log know it by; default: `package`. */
  readonly integration?: string;
  /** The file inside it, e.g. `lib/client.js`. */
  readonly file: string;
  /** Supported versions of the package, e.g. `>=8 <9`; other versions are left alone. */
  readonly versions: string;
  /** Patches the exports in place, or returns what the application should get instead. */
  patch(exports: any): any;
  unpatch(exports: any): void;
}

export type Patch = BuiltinPatch | ModulePatch;

function isBuiltin(p: Patch): p is BuiltinPatch {
  return 'builtin' in p;
}

/** The integration a patch belongs to: what FORKSAFE_DISABLE names. */
export function integrationOf(p: Patch): string {
  return p.integration ?? (isBuiltin(p) ? p.builtin : p.package);
}

function idOf(p: ModulePatch): string {
  return `${p.package}/${p.file}`;
}

interface Applied {
  patch: Patch;
  exports: any;
  label: string;
}

// What is patched now, and every package export ever patched: switching the agent off
// and on again re-patches modules the application already holds.
let active: Applied[] = [];
const remembered: Applied[] = [];
let unhook: (() => void) | undefined;
const patchedNow = new WeakMap<object, Set<Patch>>();

// `keep`: false for a sandbox's copy of a module (see applyFilePatches): remembering it
// would hold the sandbox's whole module graph for the life of the process.
function apply(patch: Patch, exports: any, label: string, keep = true): any {
  if (exports === null || (typeof exports !== 'object' && typeof exports !== 'function')) return exports;
  const done = patchedNow.get(exports) ?? new Set<Patch>();
  if (done.has(patch)) return exports;
  try {
    const replaced = patch.patch(exports);
    const result = replaced === undefined ? exports : replaced;
    for (const o of new Set([exports, result])) {
      const set = patchedNow.get(o) ?? new Set<Patch>();
      set.add(patch);
      patchedNow.set(o, set);
    }
    const record = { patch, exports: result, label };
    if (keep) active.push(record);
    if (keep && !isBuiltin(patch) && !remembered.some((r) => r.patch === patch && r.exports === result)) remembered.push(record);
    debug('patched %s', label);
    return result;
  } catch (err) {
    // A patch that fails leaves the module as the application would have had it.
    internalError(`patch ${label}`, err);
    return exports;
  }
}

let modulePatches: readonly ModulePatch[] = [];

/**
 * Patches the exports of one file of a package that was not loaded from its own file: a
 * copy an esbuild bundle inlined (forksafe/esbuild marks each such file with its package,
 * path and version at build time). Returns what the bundle should use instead.
 */
export function patchBundledFile(name: string, file: string, version: string, exports: unknown): unknown {
  let result = exports;
  for (const p of modulePatches) {
    if (p.package === name && p.file === file && satisfies(version, p.versions)) result = apply(p, result, `${name}/${file} ${version} (bundled)`);
  }
  return result;
}

/** Hooks the loading of the files the module patches name; returns the unhook. */
function hookModules(modules: readonly ModulePatch[]): () => void {
  const byId = new Map<string, ModulePatch[]>();
  for (const p of modules) byId.set(idOf(p), [...(byId.get(idOf(p)) ?? []), p]);
  const rangesOf = (pkg: string) => [...new Set(modules.filter((p) => p.package === pkg).map((p) => p.versions))];
  const outside = new Set<string>();
  const quotedNames = [...new Set(modules.map((p) => JSON.stringify(p.package)))];
  // Files are matched where the drivers load them, so CJS and ESM apps are seen alike; the
  // package is what the package.json at `<basedir>` names, read only for files a patch names.
  const claimFor = (keep: boolean): Claim => ({ basedir, file }) => {
    const pkg = packageJsonAt(basedir, quotedNames);
    const name = typeof pkg?.name === 'string' ? pkg.name : undefined;
    const candidates = name !== undefined ? byId.get(`${name}/${file}`) : undefined;
    if (name === undefined || !candidates) return undefined;
    const version = typeof pkg!.version === 'string' ? pkg!.version : undefined;
    const fitting = candidates.filter((p) => version !== undefined && satisfies(version, p.versions));
    if (fitting.length === 0) {
      // A file patch for another layout of the same package is not news; a package
      // outside every declared range is, once.
      const ranges = rangesOf(name);
      if ((version === undefined || !ranges.some((r) => satisfies(version, r))) && !outside.has(basedir)) {
        outside.add(basedir);
        debug('%s %s at %s is outside the supported versions (%s): left alone', name, version ?? '(no version)', basedir, ranges.join(' or '));
      }
      return undefined;
    }
    return (exports) => fitting.reduce((result, p) => apply(p, result, `${name}/${file} ${version}`, keep), exports);
  };
  claimSandboxFile = fileClaimer(modules.map((p) => p.file), claimFor(false)).claimFile;
  return hookFirstLoads(
    modules.map((p) => p.file),
    claimFor(true),
  );
}

/** Applies every patch: builtins now, packages as the application requires them. */
export function installPatches(patches: readonly Patch[]): void {
  for (const p of patches) {
    if (!isBuiltin(p)) continue;
    const exports = p.builtin === 'process' ? process : require(`node:${p.builtin}`);
    apply(p, exports, p.builtin);
  }
  const modules = patches.filter((p): p is ModulePatch => !isBuiltin(p));
  modulePatches = modules;
  if (modules.length > 0 && !unhook) unhook = hookModules(modules);
  // ESM named imports of builtins (`import { fork } from 'node:child_process'`, and the
  // `register` of node:module that the load hook wraps) read a copy.
  syncBuiltinESMExports();
  for (const r of remembered) apply(r.patch, r.exports, r.label);
}

/** Undoes every patch, where our wrapper is still the one in place. */
export function uninstallPatches(): void {
  modulePatches = [];
  unhook?.();
  unhook = undefined;
  claimSandboxFile = undefined;
  for (const { patch, exports, label } of active.reverse()) {
    try {
      patch.unpatch(exports);
      patchedNow.get(exports)?.delete(patch);
      debug('unpatched %s', label);
    } catch (err) {
      internalError(`unpatch ${label}`, err);
    }
  }
  active = [];
  syncBuiltinESMExports();
}

// --- Files loaded by another module system --------------------------------------------
// Jest's runtime compiles and runs every module of a test file itself, in a registry of
// its own per test file, so the load hook never sees them. patches/jest-runtime.ts hands
// each such file here as it finishes executing; the same claim applies (the package by its
// package.json, the version ranges). Each sandbox copy is patched once (by its exports
// object) and not remembered: switching the agent off leaves it patched, and the patches
// check enabled().

let claimSandboxFile: ((filename: string) => ((exports: unknown) => unknown) | undefined) | undefined;

/** The exports to hand out for `filename`, loaded outside Node's loader: patched when a patch names the file. */
export function applyFilePatches(filename: string, exports: unknown): unknown {
  const patch = claimSandboxFile?.(filename);
  return patch ? patch(exports) : exports;
}
