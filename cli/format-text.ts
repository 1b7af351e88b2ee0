import type { Summary } from './summary';

/** How many malformed lines the human summary prints before "... and N more". */
const MALFORMED_PRINTED = 20;

/** The summary for a person at a terminal: plain text, no colours, one trailing newline. */
export function formatText(summary: Summary): string {
  const out: string[] = [];
  out.push(`forksafe report: ${summary.file}${summary.lines === 0 ? ' (empty)' : ''}`);

  const { violations, forks } = summary;
  const headline = [
    violations.count === 0
      ? 'no violations'
      : `${plural(violations.count, 'violation')} in ${plural(violations.processes, 'process', 'processes')}`,
    forks.count === 0
      ? 'no forks'
      : `${plural(forks.count, 'fork')} (closed ${forks.closed}, kept ${forks.kept}, median ${formatMs(forks.medianMs)})`,
  ];
  const others = Object.entries(summary.records.other);
  if (others.length > 0) {
    const total = others.reduce((sum, [, n]) => sum + n, 0);
    headline.push(`${plural(total, 'other record')} (${others.map(([type, n]) => `${type} ${n}`).join(', ')})`);
  }
  out.push(headline.join('; '));
  if (violations.count > 0) out.push(`by kind: ${violations.kinds.map((k) => `${k.kind} ${k.count}`).join(', ')}`);

  for (const kind of violations.kinds) {
    out.push('', `${kind.kind} (${kind.count})`);
    const width = String(kind.sites[0]?.count ?? 0).length;
    const indent = ' '.repeat(width + 4);
    for (const site of kind.sites) {
      out.push(`  ${String(site.count).padStart(width)}  ${site.site}  ${site.apis.join(', ')}`);
      const several = site.connections.length > 1;
      for (const c of site.connections) {
        const what = c.driver === null && c.target === null ? 'unknown connection' : `${c.driver ?? '?'} ${c.target ?? '?'}`;
        out.push(`${indent}${several ? `${c.count}x ` : ''}${what}, opened at ${c.openedAt}`);
      }
    }
    if (kind.unlisted > 0) out.push(`  ... and ${plural(kind.unlisted, 'more violation')} at call sites not listed (${unlistedWhy})`);
  }

  if (violations.tests.length > 0) {
    out.push('', 'by test');
    const width = String(violations.tests[0]!.count).length;
    for (const t of violations.tests) out.push(`  ${String(t.count).padStart(width)}  ${t.file ?? '<unknown file>'} › ${t.name ?? '(outside a test)'}  ${t.kinds.join(', ')}`);
    if (violations.testsUnlisted > 0) out.push(`  ... and ${plural(violations.testsUnlisted, 'more violation')} in tests not listed (only the first ${violations.tests.length} tests are kept)`);
  }

  const { malformed } = summary;
  if (malformed.count > 0) {
    out.push('', `${plural(malformed.count, 'malformed line')} skipped`);
    for (const m of malformed.lines.slice(0, MALFORMED_PRINTED)) out.push(`  line ${m.line}: ${m.reason}`);
    if (malformed.count > MALFORMED_PRINTED) out.push(`  ... and ${malformed.count - MALFORMED_PRINTED} more`);
  }
  return out.join('\n') + '\n';
}

/** Why some call sites are missing, for every format that says so. */
export const unlistedWhy = 'only the most frequent call sites are kept';

export function plural(n: number, one: string, many = one + 's'): string {
  return `${n} ${n === 1 ? one : many}`;
}

function formatMs(ms: number | null): string {
  return ms === null ? '? ms' : `${Number(ms.toFixed(2))} ms`;
}
