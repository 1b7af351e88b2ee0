import { formatText } from './format-text';
import { summarizeFile } from './report';
import type { Summary } from './summary';

export const FORMATS = ['text', 'json', 'html', 'github', 'junit'] as const;
export type Format = (typeof FORMATS)[number];

export function isFormat(value: string): value is Format {
  return (FORMATS as readonly string[]).includes(value);
}

/** Reads a report once and renders it; throws ReportReadError when it cannot be read. */
export async function render(file: string, format: Format, label = file): Promise<{ summary: Summary; output: string }> {
  const summary = await summarizeFile(file, label);
  switch (format) {
    case 'json':
      return { summary, output: JSON.stringify(summary, null, 2) + '\n' };
    default:
      return { summary, output: formatText(summary) };
  }
}
