import { syncBuiltinESMExports } from 'node:module';
import { debug, internalError } from './boundary';
import { installedNear, runsEsModules } from './esm-app';
import type { LoaderStandIn } from './esm-cjs-hook';
import { esmHooksAvailable, hookEsmLoads, installEsmBridge, standInTemplate, type EsmExports } from './esm-hook';
import { fileClaimer, hookFirstLoads, type Claim, type PackageFile } from './load-hook';
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
  /**
   * The same code in the package's ES-module build, which `import` loads (postgres.js's
   * `src/`, mariadb 3.5's `promise.js`): patched too where Node has in-thread module hooks
   * (agent/esm-hook.ts), the namespace mapped onto `patch()` as `exports` says.
   */
  readonly esm?: { readonly file: string; readonly exports: EsmExports };
  /**
   * Patches the exports in place, or returns what the application should get instead.
   * `where` is the package's folder and the file, when it was loaded from one.
   */
  patch(exports: any, where?: PackageFile): any;
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

interface Applied {
  patch: Patch;
  exports: any;
  label: string;
  where?: PackageFile;
}

// What is patched now, and every package export ever patched: switching the agent off
// and on again re-patches modules the application already holds.
let active: Applied[] = [];
const remembered: Applied[] = [];
let unhook: (() => void) | undefined;
const patchedNow = new WeakMap<object, Set<Patch>>();

// `keep`: false for a sandbox's copy of a module (see applyFilePatches): remembering it
// would hold the sandbox's whole module graph for the life of the process.
function apply(patch: Patch, exports: any, label: string, keep = true, where?: PackageFile): any {
  if (exports === null || (typeof exports !== 'object' && typeof exports !== 'function')) return exports;
  const done = patchedNow.get(exports) ?? new Set<Patch>();
  if (done.has(patch)) return exports;
  try {
    const replaced = isBuiltin(patch) ? patch.patch(exports) : patch.patch(exports, where);
    const result = replaced === undefined ? exports : replaced;
    for (const o of new Set([exports, result])) {
      const set = patchedNow.get(o) ?? new Set<Patch>();
      set.add(patch);
      patchedNow.set(o, set);
    }
    const record = { patch, exports: result, label, where };
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

/** The file a patch names in one build of its package: `file` for CommonJS, `esm.file` for the ES-module build. */
type FileOf = (p: ModulePatch) => string | undefined;
const commonJsFile: FileOf = (p) => p.file;
const esmFile: FileOf = (p) => p.esm?.file;

/** Hooks the loading of the files the module patches name; returns the unhook. */
function hookModules(modules: readonly ModulePatch[]): () => void {
  const rangesOf = (pkg: string) => [...new Set(modules.filter((p) => p.package === pkg).map((p) => p.versions))];
  const outside = new Set<string>();
  const quotedNames = [...new Set(modules.map((p) => JSON.stringify(p.package)))];
  const filesOf = (fileOf: FileOf) => modules.map(fileOf).filter((f): f is string => f !== undefined);
  // Files are matched where the drivers load them, so CJS and ESM apps are seen alike; the
  // package is what the package.json at `<basedir>` names, read only for files a patch names.
  // Gives the patches that fit a loaded file, and says once when its package's version is outside them all.
  const fittingFor = (fileOf: FileOf) => {
    const byId = new Map<string, ModulePatch[]>();
    for (const p of modules) {
      const file = fileOf(p);
      if (file !== undefined) byId.set(`${p.package}/${file}`, [...(byId.get(`${p.package}/${file}`) ?? []), p]);
    }
    return ({ basedir, file }: PackageFile): { label: string; fitting: ModulePatch[] } | undefined => {
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
      return { label: `${name}/${file} ${version}`, fitting };
    };
  };
  const patchWith = (fitting: ModulePatch[], label: string, keep: boolean, where: PackageFile) => (exports: unknown) =>
    fitting.reduce((result, p) => apply(p, result, label, keep, where), exports);

  const fittingEsm = fittingFor(esmFile);
  const esm = fileClaimer(filesOf(esmFile), (where): { exports: EsmExports; patch: (exports: unknown) => unknown } | undefined => {
    const found = fittingEsm(where);
    return found && { exports: found.fitting[0]!.esm!.exports, patch: patchWith(found.fitting, `${found.label} (ES module)`, true, where) };
  });
  let unhookEsm: (() => void) | undefined;
  // Node 20: stand-ins made by the loader thread, if another tool starts one (esm-cjs-hook.ts).
  let standIns: LoaderStandIn[] = [];
  if (esm.basenames.length > 0) {
    const packages = [...new Set(modules.filter((p) => p.esm).map((p) => p.package))];
    if (!esmHooksAvailable()) {
      debug('the ES-module builds of the drivers are hooked only in a module.register() hooks thread that another tool starts (tsx, an APM agent\'s --import): Node %s has no module.registerHooks (22.15 and later have it)', process.versions.node);
      standIns = modules.flatMap((p) => (p.esm ? [{ package: p.package, file: p.esm.file, template: standInTemplate(p.esm.exports) }] : []));
      unhookEsm = installEsmBridge(esm.claimFile);
    } else {
      const skip = !runsEsModules()
        ? 'the app is CommonJS (its require() loads their CommonJS builds)'
        : !installedNear(packages)
          ? `none of ${packages.join(', ')} is installed near the app`
          : undefined;
      if (skip) debug('the ES-module builds of the drivers are not hooked: %s', skip);
      else unhookEsm = hookEsmLoads(esm.basenames, esm.claimFile);
    }
  }

  const fittingCjs = fittingFor(commonJsFile);
  const claimFor = (keep: boolean): Claim => (where) => {
    const found = fittingCjs(where);
    return found && patchWith(found.fitting, found.label, keep, where);
  };
  claimSandboxFile = fileClaimer(filesOf(commonJsFile), claimFor(false)).claimFile;
  const unhookCjs = hookFirstLoads(filesOf(commonJsFile), claimFor(true), standIns);
  return () => {
    unhookEsm?.();
    unhookCjs();
  };
}

/** Applies every patch: builtins now, packages as the application requires them. */
export function installPatches(patches: readonly Patch[]): void {
  for (const p of patches) {
    if (!isBuiltin(p)) continue;
    const exports = p.builtin === 'process' ? process : require(`node:${p.builtin}`);
    // Two integrations patch `process` (the process patch, and Vitest's worker context).
    const integration = integrationOf(p);
    apply(p, exports, integration === p.builtin ? p.builtin : `${p.builtin} (${integration})`);
  }
  const modules = patches.filter((p): p is ModulePatch => !isBuiltin(p));
  modulePatches = modules;
  if (modules.length > 0 && !unhook) unhook = hookModules(modules);
  // ESM named imports of builtins (`import { fork } from 'node:child_process'`, and the
  // `register` of node:module that the load hook wraps) read a copy.
  syncBuiltinESMExports();
  for (const r of remembered) apply(r.patch, r.exports, r.label, true, r.where);
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
