// `require('forksafe/esbuild')`: an esbuild plugin for apps that bundle their drivers.
// A bundle inlines pg, mysql2 and the rest, so no file of theirs is ever loaded for the
// agent to patch. The plugin appends to each file a patch names (pg's lib/client.js,
// pg-pool's index.js, …) one statement that hands its exports to the agent running in the
// process (`node -r forksafe/register bundle.js`), with the package, path and version read
// at build time. Without the agent the statement does nothing.
import { readFileSync } from 'node:fs';
import { dirname, sep } from 'node:path';
import type { ModulePatch } from './agent/patching';
import { packageJsonAt } from './agent/packages';
import { patches } from './patches';

/** The part of esbuild's plugin API this plugin uses. */
interface PluginBuild {
  onLoad(
    options: { filter: RegExp },
    callback: (args: { path: string }) => { contents: string; loader: 'js'; resolveDir: string } | undefined,
  ): void;
}

const targets = patches.filter((p): p is ModulePatch => 'package' in p);

/** The package file a patch names that `path` is, by the package's own package.json. */
function targetOf(path: string): { name: string; file: string; version: string } | undefined {
  for (const p of targets) {
    const suffix = sep + p.file.split('/').join(sep);
    if (!path.endsWith(suffix)) continue;
    const pkg = packageJsonAt(path.slice(0, -suffix.length));
    if (pkg?.name === p.package && typeof pkg.version === 'string') return { name: p.package, file: p.file, version: pkg.version };
  }
  return undefined;
}

function footer(t: { name: string; file: string; version: string }): string {
  const args = [t.name, t.file, t.version].map((v) => JSON.stringify(v)).join(', ');
  return `\n;{ const forksafe = globalThis[Symbol.for('forksafe')]; if (forksafe && typeof forksafe.patchBundled === 'function') module.exports = forksafe.patchBundled(${args}, module.exports); }\n`;
}

const plugin = {
  name: 'forksafe',
  setup(build: PluginBuild): void {
    build.onLoad({ filter: /[\\/]node_modules[\\/].*\.c?js$/ }, (args) => {
      const target = targetOf(args.path);
      if (!target) return undefined;
      return { contents: readFileSync(args.path, 'utf8') + footer(target), loader: 'js', resolveDir: dirname(args.path) };
    });
  },
};

export = plugin;
