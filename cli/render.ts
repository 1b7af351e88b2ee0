import { formatGithub } from './format-github';
import { formatHtml } from './format-html';
import { formatJunit } from './format-junit';
import { formatText } from './format-text';
import { summarizeFile } from './report';
import type { Summary } from './summary';
import { TreeBuilder } from './tree';

export const FORMATS = ['text', 'json', 'html', 'github', 'junit'] as const;
export type Format = (typeof FORMATS)[number];

export function isFormat(value: string): value is Format {
  return (FORMATS as readonly string[]).includes(value);
}

/** Reads a report once and renders it; throws ReportReadError when it cannot be read. */
export async function render(file: string, format: Format, label = file): Promise<{ summary: Summary; output: string }> {
  // The tree is built only for the formats that show it.
  const tree = format === 'html' || format === 'junit' ? new TreeBuilder() : undefined;
  const summary = await summarizeFile(file, label, tree === undefined ? undefined : (record) => tree.add(record));
  switch (format) {
    case 'json':
      return { summary, output: JSON.stringify(summary, null, 2) + '\n' };
    case 'html':
      return { summary, output: formatHtml(summary, tree!.tree()) };
    case 'github':
      return { summary, output: formatGithub(summary) };
    case 'junit':
      return { summary, output: formatJunit(summary, tree!.tree()) };
    case 'text':
      return { summary, output: formatText(summary) };
  }
}
