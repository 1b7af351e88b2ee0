import { writeFile } from 'node:fs/promises';
import { exitCodeOf, fileErrorReason, ReportReadError } from './report';
import { type Format, render } from './render';

export interface ReportOptions {
  format: Format;
  /** Where to write the output instead of stdout. */
  out: string | undefined;
}

/** `forksafe report <file>`: the report in the chosen format; returns the exit code. */
export async function reportCommand(file: string, options: ReportOptions): Promise<number> {
  let rendered;
  try {
    rendered = await render(file, options.format);
  } catch (err) {
    if (!(err instanceof ReportReadError)) throw err;
    process.stderr.write(`forksafe report: ${err.message}\n`);
    return 2;
  }
  if (options.out === undefined) process.stdout.write(rendered.output);
  else if (!(await writeOut(options.out, rendered.output, 'forksafe report'))) return 2;
  return exitCodeOf(rendered.summary);
}

/** Writes an output file (0600: it holds stacks and targets); says why in one line if it cannot. */
export async function writeOut(path: string, output: string, who: string): Promise<boolean> {
  try {
    await writeFile(path, output, { mode: 0o600 });
    return true;
  } catch (err) {
    process.stderr.write(`${who}: cannot write ${path}: ${fileErrorReason(err)}\n`);
    return false;
  }
}
