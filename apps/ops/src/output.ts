export interface Output {
  json: boolean;
  /** A line for people; suppressed with --json. */
  line(text: string): void;
  /** The machine-readable result; printed only with --json. */
  result(value: unknown): void;
}

export function createOutput(
  json: boolean,
  write: (text: string) => void = (t) => process.stdout.write(t),
): Output {
  return {
    json,
    line: (text) => {
      if (!json) write(`${text}\n`);
    },
    result: (value) => {
      if (json) write(`${JSON.stringify(value, null, 2)}\n`);
    },
  };
}
