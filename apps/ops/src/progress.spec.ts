import { createProgress, formatDuration, formatRate, renderProgress } from './progress';

describe('progress', () => {
  it('renders a bar with percent, counts, rate and ETA, cut to the terminal width', () => {
    expect(
      renderProgress({
        label: 'scanning',
        unit: 'records',
        done: 4_500,
        total: 10_000,
        elapsedMs: 3_000,
        width: 100,
      }),
    ).toBe('scanning [##############................] 45% 4,500/10,000 records 1,500/s ETA 0:04');
    expect(
      renderProgress({ label: 'scanning', unit: 'records', done: 0, total: 10, elapsedMs: 0, width: 100 }),
    ).toContain('0% 0/10 records 0.0/s ETA --:--');
    const narrow = renderProgress({
      label: 'scanning',
      unit: 'records',
      done: 1,
      total: 2,
      elapsedMs: 1000,
      width: 40,
    });
    expect(narrow.length).toBeLessThan(40);
    expect(narrow).not.toContain('[');
  });

  it('formats durations and rates', () => {
    expect(formatDuration(7_000)).toBe('0:07');
    expect(formatDuration(765_000)).toBe('12:45');
    expect(formatDuration(3_723_000)).toBe('1:02:03');
    expect(formatRate(1234.4)).toBe('1,234/s');
    expect(formatRate(0.25)).toBe('0.3/s');
  });

  it('draws on the terminal at most every interval, then clears it and prints a summary with the rate', () => {
    let clock = 0;
    const drawn: string[] = [];
    const summary: string[] = [];
    const progress = createProgress({
      label: 'redriving',
      unit: 'records',
      terminal: { write: (t) => drawn.push(t), columns: 80 },
      summary: (line) => summary.push(line),
      now: () => clock,
      intervalMs: 100,
    });
    clock = 50;
    progress.update(1, 10);
    clock = 60;
    progress.update(2, 10); // within the interval: not drawn
    clock = 200;
    progress.update(10, 10);
    clock = 2_000;
    progress.finish('redrove 10 records');
    expect(drawn).toHaveLength(3);
    expect(drawn[0]).toMatch(/^\rredriving .* 10% 1\/10 records/);
    expect(drawn[2]).toBe('\r\x1b[2K');
    expect(summary).toEqual(['redrove 10 records in 2.0 s (5.0/s)']);
  });

  it('without a terminal (not a TTY, or --json) draws nothing and only summarizes', () => {
    const summary: string[] = [];
    const progress = createProgress({
      label: 'x',
      unit: 'records',
      summary: (l) => summary.push(l),
      now: () => 0,
    });
    progress.update(5, 10);
    progress.finish('done');
    expect(summary).toEqual(['done in 0.0 s']);
  });
});
