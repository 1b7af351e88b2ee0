import { FORMATS, type Format, isFormat } from './render';

/** What was wrong with the command line, in one line naming what is accepted. */
export class UsageError extends Error {}

/**
 * Reads `--name value` or `--name=value` at flags[i]; returns the value and the index of
 * the last flag used, or undefined when flags[i] is not this option.
 */
export function optionValue(flags: readonly string[], i: number, name: string, what: string, usage: string): { value: string; next: number } | undefined {
  const flag = flags[i]!;
  if (flag !== name && !flag.startsWith(name + '=')) return undefined;
  const value = flag === name ? flags[i + 1] : flag.slice(name.length + 1);
  if (value === undefined || value === '' || (value.startsWith('-') && value !== '-')) throw new UsageError(`${name} needs ${what} (usage: ${usage})`);
  return { value, next: flag === name ? i + 1 : i };
}

export function formatValue(value: string, usage: string): Format {
  if (!isFormat(value)) throw new UsageError(`unknown format '${value}' (accepted: ${FORMATS.join(', ')}; usage: ${usage})`);
  return value;
}
