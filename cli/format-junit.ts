// JUnit XML, the format most CI servers ingest: a test suite per violation kind with one
// failing test case per call site, a suite of passing test cases for the forks the agent
// made safe, and the malformed lines of the report as the output of one more test case.
import { plural, unlistedWhy } from './format-text';
import { placeOf } from './sites';
import type { Summary } from './summary';
import type { ProcessTree } from './tree';

export function formatJunit(summary: Summary, tree: ProcessTree, cwd = process.cwd()): string {
  const suites: string[] = [];
  let tests = 0;
  let failures = 0;

  for (const kind of summary.violations.kinds) {
    const cases = kind.sites.map((site) => {
      const { place } = placeOf(site, cwd);
      const attributes = place === null ? '' : ` file="${xml(place.file)}" line="${place.line}"`;
      const body = [
        `${plural(site.count, 'violation')} of kind ${kind.kind} at ${site.site}, via ${site.apis.join(', ')}`,
        '',
        site.first.message ?? '(no message recorded)',
        ...(site.first.test === null ? [] : [`During the test: ${site.first.test.name ?? '?'} (${site.first.test.file ?? '?'})`]),
        '',
        'Connections:',
        ...site.connections.map((c) => `  ${c.count}x ${c.driver ?? '?'} ${c.target ?? '?'}, opened at ${c.openedAt}`),
        '',
        'Stack of the violating call:',
        site.first.stack ?? '  (not recorded)',
        '',
        'Where the connection was opened:',
        site.first.openedAt ?? '  (not recorded)',
      ].join('\n');
      const message = `${kind.kind} at ${site.site}`;
      return (
        `    <testcase classname="forksafe.${xml(kind.kind)}" name="${xml(site.site)}"${attributes}>\n` +
        `      <failure type="${xml(kind.kind)}" message="${xml(message)}">${xml(body)}</failure>\n` +
        `    </testcase>`
      );
    });
    if (kind.unlisted > 0) {
      cases.push(
        `    <testcase classname="forksafe.${xml(kind.kind)}" name="call sites not listed">\n` +
          `      <failure type="${xml(kind.kind)}" message="${xml(`${plural(kind.unlisted, 'more violation')} at call sites not listed (${unlistedWhy})`)}"/>\n` +
          `    </testcase>`,
      );
    }
    tests += cases.length;
    failures += cases.length;
    suites.push(suite(`forksafe ${kind.kind}`, cases, cases.length));
  }

  // Each fork the agent saw: a passing case saying what its pre-fork step did.
  const forkCases: string[] = [];
  for (const node of tree.processes) {
    if (node.fork === null) continue;
    const f = node.fork;
    const name = `${f.api} ${node.parent ?? '?'} -> ${node.pid}${node.command === null ? '' : ` (${node.command})`}`;
    const detail = `pools ${f.pools}, closed ${f.closed}, kept ${f.kept}${f.ms === null ? '' : `, ${f.ms} ms`}`;
    forkCases.push(`    <testcase classname="forksafe.fork" name="${xml(name)}">\n      <system-out>${xml(detail)}</system-out>\n    </testcase>`);
  }
  if (forkCases.length > 0) {
    tests += forkCases.length;
    suites.push(suite('forksafe forks', forkCases, 0));
  }

  const { malformed } = summary;
  if (malformed.count > 0) {
    const listed = malformed.lines.map((m) => `line ${m.line}: ${m.reason}`);
    if (malformed.count > listed.length) listed.push(`... and ${malformed.count - listed.length} more`);
    const text = `${plural(malformed.count, 'malformed line')} skipped in ${summary.file}\n${listed.join('\n')}`;
    tests++;
    suites.push(suite('forksafe report', [`    <testcase classname="forksafe.report" name="malformed lines">\n      <system-err>${xml(text)}</system-err>\n    </testcase>`], 0));
  }

  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<testsuites name="forksafe" tests="${tests}" failures="${failures}">\n` +
    suites.join('\n') +
    (suites.length > 0 ? '\n' : '') +
    '</testsuites>\n'
  );
}

function suite(name: string, cases: string[], failures: number): string {
  return `  <testsuite name="${xml(name)}" tests="${cases.length}" failures="${failures}">\n${cases.join('\n')}\n  </testsuite>`;
}

/** Text as XML 1.0 character data or attribute value: escaped, characters XML forbids dropped. */
function xml(value: string): string {
  return value
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}
