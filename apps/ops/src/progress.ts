/** Where a progress bar draws: a terminal (stderr) of some width. */
export interface ProgressTerminal {
  write(text: string): void;
  columns?: number | undefined;
}

export interface Progress {
  /** `done` of `total` units so far (total may grow). Redraws at most every `intervalMs`. */
  update(done: number, total: number): void;
  /** Clears the bar and prints the summary line (`<what> in 3.2 s (1,234/s)`). */
  finish(summary: string): void;
  /** Clears the bar without a summary (before an error line). */
  clear(): void;
}

export interface ProgressOptions {
  label: string;
  unit: string;
  /** The terminal to draw on; none (not a TTY, or --json): no bar, only the summary. */
  terminal?: ProgressTerminal | undefined;
  /** Where the summary line goes (stdout for people); none with --json. */
  summary?: ((line: string) => void) | undefined;
  now?: () => number;
  intervalMs?: number;
}

const grouped = (n: number): string => Math.round(n).toLocaleString('en-US');

/** `0:07`, `12:45`, `1:02:03`. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** A rate such as `1,234/s` or `0.5/s`. */
export function formatRate(perSecond: number): string {
  return perSecond >= 10 ? `${grouped(perSecond)}/s` : `${perSecond.toFixed(1)}/s`;
}

/**
 * One line of a progress bar: `label [#####.....] 45% 4,500/10,000 records 1,234/s ETA 0:04`, cut to `width`.
 * Pure.
 */
export function renderProgress(state: {
  label: string;
  unit: string;
  done: number;
  total: number;
  elapsedMs: number;
  width: number;
}): string {
  const { label, unit, done, total, elapsedMs, width } = state;
  const fraction = total > 0 ? Math.min(1, done / total) : 1;
  const perSecond = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
  const eta = perSecond > 0 && total > done ? formatDuration(((total - done) / perSecond) * 1000) : '--:--';
  const figures = `${Math.floor(fraction * 100)}% ${grouped(done)}/${grouped(total)} ${unit} ${formatRate(perSecond)} ETA ${eta}`;
  const barWidth = Math.max(0, Math.min(30, width - label.length - figures.length - 4));
  const filled = Math.round(fraction * barWidth);
  const bar = barWidth > 0 ? ` [${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}]` : '';
  return `${label}${bar} ${figures}`.slice(0, Math.max(1, width - 1));
}

/** A progress bar on a terminal (rate and ETA), and a summary line when the work is done. */
export function createProgress(options: ProgressOptions): Progress {
  const now = options.now ?? Date.now;
  const intervalMs = options.intervalMs ?? 100;
  const started = now();
  let drawnAt = -Infinity;
  let drawn = false;
  let last = { done: 0, total: 0 };
  const clear = (): void => {
    if (drawn) options.terminal?.write('\r\x1b[2K');
    drawn = false;
  };
  return {
    update(done, total) {
      last = { done, total };
      const terminal = options.terminal;
      if (!terminal) return;
      const at = now();
      if (at - drawnAt < intervalMs && done < total) return;
      drawnAt = at;
      const line = renderProgress({
        label: options.label,
        unit: options.unit,
        done,
        total,
        elapsedMs: at - started,
        width: terminal.columns ?? 80,
      });
      terminal.write(`\r${line}\x1b[K`);
      drawn = true;
    },
    finish(summary) {
      clear();
      const elapsed = now() - started;
      const perSecond = elapsed > 0 ? (last.done * 1000) / elapsed : 0;
      options.summary?.(
        `${summary} in ${(elapsed / 1000).toFixed(1)} s${perSecond > 0 ? ` (${formatRate(perSecond)})` : ''}`,
      );
    },
    clear,
  };
}
