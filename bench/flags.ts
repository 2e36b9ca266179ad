/** Command-line flag parsing shared by the benchmarks: `--flag value`, `--flag=value`, `--switch`. */

export class UsageError extends Error {}

/** The value side of one flag on the command line. */
export interface FlagValue {
  /** The flag's value (inline or the next argument); a UsageError when there is none. */
  take(): string;
  /** Asserts the flag came without a value. */
  none(): void;
}

/** An integer flag: the option it sets and its bounds. */
export type IntegerFlags<Options> = Record<string, [keyof Options, number, number]>;

export interface FlagSpec<Options> {
  integers: IntegerFlags<Options>;
  /** Comma-separated integer lists (at most 10 values). */
  lists?: IntegerFlags<Options>;
  /** Every other flag: true when handled, 'help' for help, false when unknown. */
  other(flag: string, value: FlagValue, options: Options): boolean | 'help';
}

export function integerValue(flag: string, text: string, min: number, max: number): number {
  const clean = text.replaceAll('_', '');
  const value = Number(clean);
  if (!/^\d+$/.test(clean) || value < min || value > max)
    throw new UsageError(`${flag} must be an integer from ${min} to ${max}, not "${text}"`);
  return value;
}

/** A decimal number flag (`1.5`) in [min, max]. */
export function decimalValue(flag: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || value < min || value > max)
    throw new UsageError(`${flag} must be a number from ${min} to ${max}, not "${text}"`);
  return value;
}

/**
 * A benchmark's command line: its options, or the exit code after printing the usage (0 for
 * `--help`) or one line naming the bad flag on stderr (2).
 */
export function commandLine<Options>(
  name: string,
  parse: (argv: readonly string[]) => Options | 'help',
  usage: string,
  argv: readonly string[] = process.argv.slice(2),
): Options | number {
  try {
    const parsed = parse(argv);
    if (parsed !== 'help') return parsed;
    process.stdout.write(usage);
    return 0;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${name}: ${error.message}\n`);
    return 2;
  }
}

/** Parses argv (without node and script) over `defaults`; throws a UsageError naming the first bad flag. */
export function parseFlags<Options extends object>(
  argv: readonly string[],
  defaults: Options,
  spec: FlagSpec<Options>,
): Options | 'help' {
  const options: Options = { ...defaults };
  const values = options as Record<keyof Options, unknown>;
  for (let i = 0; i < argv.length; i += 1) {
    const raw = argv[i] ?? '';
    const eq = raw.indexOf('=');
    const flag = raw.startsWith('--') && eq > 0 ? raw.slice(0, eq) : raw;
    const inline = raw.startsWith('--') && eq > 0 ? raw.slice(eq + 1) : undefined;
    const value: FlagValue = {
      take: () => {
        if (inline !== undefined) return inline;
        const next = argv[i + 1];
        if (next === undefined || next.startsWith('--')) throw new UsageError(`${flag} needs a value`);
        i += 1;
        return next;
      },
      none: () => {
        if (inline !== undefined) throw new UsageError(`${flag} takes no value`);
      },
    };
    const single = spec.integers[flag];
    if (single) {
      const [key, min, max] = single;
      values[key] = integerValue(flag, value.take(), min, max);
      continue;
    }
    const list = spec.lists?.[flag];
    if (list) {
      const [key, min, max] = list;
      const parts = value.take().split(',');
      if (parts.length > 10) throw new UsageError(`${flag} takes at most 10 values, not ${parts.length}`);
      values[key] = parts.map((part) => integerValue(flag, part.trim(), min, max));
      continue;
    }
    const handled = spec.other(flag, value, options);
    if (handled === 'help') return 'help';
    if (!handled) throw new UsageError(`unknown flag "${raw}" (see --help)`);
  }
  return options;
}
