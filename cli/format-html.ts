// The report as one self-contained page: the page's HTML, CSS and JS live in
// cli/report-page/ (copied next to this file in dist/ by the build), the report's data is
// embedded as JSON, and nothing is fetched.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Summary } from './summary';
import type { ProcessTree } from './tree';

/** Violation entries the page holds in all; past that, processes say how many they left out. */
const PAGE_VIOLATIONS = 20_000;
const PAGE_MALFORMED = 200;

function pageDir(): string {
  // dist/cli/report-page once built; cli/report-page of a checkout when dist/ has no copy.
  const candidates = [join(__dirname, 'report-page'), join(__dirname, '..', '..', 'cli', 'report-page')];
  const found = candidates.find((dir) => existsSync(join(dir, 'page.html')));
  if (found === undefined) throw new Error(`the report page is missing (looked in ${candidates.join(', ')})`);
  return found;
}

export function formatHtml(summary: Summary, tree: ProcessTree): string {
  const dir = pageDir();
  const [html, css, js] = ['page.html', 'page.css', 'page.js'].map((name) => readFileSync(join(dir, name), 'utf8')) as [string, string, string];
  // Functions as replacements: a `$` in the page's code is not a replacement pattern.
  return html
    .replace('/*FORKSAFE_CSS*/', () => css)
    .replace('/*FORKSAFE_JS*/', () => js)
    .replace('/*FORKSAFE_DATA*/', () => embed(pageData(summary, tree)));
}

/** The data the page reads. Repeated strings (sites, targets, kinds) are stored once. */
export function pageData(summary: Summary, tree: ProcessTree) {
  const strings: string[] = [];
  const index = new Map<string, number>();
  const ref = (value: string | null): number | null => {
    if (value === null) return null;
    let i = index.get(value);
    if (i === undefined) {
      index.set(value, (i = strings.length));
      strings.push(value);
    }
    return i;
  };
  let budget = PAGE_VIOLATIONS;
  const processes = tree.processes.map((p) => {
    const kept = p.violations.slice(0, Math.max(0, budget));
    budget -= kept.length;
    return {
      pid: p.pid,
      parent: p.parent,
      command: p.command,
      fork: p.fork,
      forks: p.forks,
      violationCount: p.violationCount,
      unlistedViolations: p.unlistedViolations + (p.violations.length - kept.length),
      // [kind, site, api, mode, driver, target, local, remote, openedSite, count]
      violations: kept.map((v) => [ref(v.kind), ref(v.site), ref(v.api), ref(v.mode), ref(v.driver), ref(v.target), ref(v.local), ref(v.remote), ref(v.openedSite), v.count]),
    };
  });
  return {
    file: summary.file,
    summary: {
      violations: summary.violations.count,
      violationProcesses: summary.violations.processes,
      processes: summary.processes,
      forks: summary.forks.count,
      closed: summary.forks.closed,
      kept: summary.forks.kept,
      byKind: summary.violations.byKind,
      malformed: summary.malformed.count,
    },
    processes,
    unlistedProcesses: tree.unlistedProcesses,
    malformed: { count: summary.malformed.count, lines: summary.malformed.lines.slice(0, PAGE_MALFORMED) },
    strings,
  };
}

// JSON inside <script type="application/json">: `<` escaped so no text can close the
// element, and U+2028/2029 for old JSON.parse-as-JS readers.
function embed(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}
