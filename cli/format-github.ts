// GitHub Actions workflow commands: one `::error` per violation call site, which GitHub
// shows as an annotation on that line of the diff
// (https://docs.github.com/en/actions/reference/workflow-commands-for-github-actions).
import { plural, unlistedWhy } from './format-text';
import { placeOf } from './sites';
import type { Summary } from './summary';

const MALFORMED_ANNOTATED = 20;

export function formatGithub(summary: Summary, cwd = process.cwd()): string {
  const out: string[] = [];
  for (const kind of summary.violations.kinds) {
    for (const site of kind.sites) {
      const { place, opened } = placeOf(site, cwd);
      const properties = place === null ? [] : [`file=${property(place.file)}`, `line=${place.line}`, `col=${place.col}`];
      properties.push(`title=${property(`forksafe ${kind.kind}`)}`);
      const times = site.count === 1 ? '' : ` (${site.count} times)`;
      const during = site.first.test?.name ? ` [during the test ${site.first.test.name}]` : '';
      const where = during + (place === null ? ` [at ${site.site}]` : opened ? ` [at ${site.site}; shown where the connection was opened]` : '');
      out.push(`::error ${properties.join(',')}::${data(`${site.first.message ?? `${kind.kind} via ${site.apis.join(', ')}`}${times}${where}`)}`);
    }
    if (kind.unlisted > 0) {
      out.push(`::warning title=${property(`forksafe ${kind.kind}`)}::${data(`${plural(kind.unlisted, 'more violation')} at call sites not listed (${unlistedWhy})`)}`);
    }
  }
  const { malformed } = summary;
  for (const m of malformed.lines.slice(0, MALFORMED_ANNOTATED)) {
    out.push(`::warning title=forksafe report::${data(`${summary.file} line ${m.line}: ${m.reason} (skipped)`)}`);
  }
  if (malformed.count > MALFORMED_ANNOTATED) {
    out.push(`::warning title=forksafe report::${data(`${summary.file}: ${malformed.count - MALFORMED_ANNOTATED} more malformed lines skipped`)}`);
  }
  return out.length === 0 ? '' : out.join('\n') + '\n';
}

// The runner's escapes: data ends at a line end; a property also at ':' and ','.
function data(value: string): string {
  return value.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function property(value: string): string {
  return data(value).replace(/:/g, '%3A').replace(/,/g, '%2C');
}
