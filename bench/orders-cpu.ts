// CPU accounting from /proc (Linux): how many cores each part of the system used during a
// phase — the benchmark's own services, the broker, the registry, PostgreSQL, the benchmark
// process, and everything else on the (shared) machine.
import fs from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

interface Snapshot {
  at: number;
  /** Busy ticks of all CPUs (user, nice, system, irq, softirq, steal). */
  busy: number;
  /** Idle ticks of all CPUs (idle, iowait). */
  idle: number;
  perPid: Map<number, { ticks: number; label: string }>;
}

export interface CpuUse {
  seconds: number;
  /** Average cores busy on the whole machine. */
  busyCores: number;
  /** Average cores used, by part. */
  parts: Record<string, number>;
}

function read(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Labels processes: the benchmark's children by pid, the rest by what they run. */
export class CpuMeter {
  private readonly labels = new Map<number, string>();

  label(pid: number | undefined, name: string): void {
    if (pid !== undefined) this.labels.set(pid, name);
  }

  snapshot(): Snapshot | undefined {
    const stat = read('/proc/stat');
    if (stat === undefined) return undefined;
    const cpu = stat.split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = cpu;
    const perPid = new Map<number, { ticks: number; label: string }>();
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const pid = Number(entry);
      const text = read(`/proc/${pid}/stat`);
      if (text === undefined) continue;
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
      perPid.set(pid, { ticks, label: this.classify(pid, text) });
    }
    return {
      at: performance.now(),
      busy: user + nice + system + irq + softirq + steal,
      idle: idle + iowait,
      perPid,
    };
  }

  /** Cores used between two snapshots; `other processes` is what no known part accounts for. */
  static between(start: Snapshot | undefined, end: Snapshot | undefined): CpuUse | undefined {
    if (!start || !end) return undefined;
    const seconds = (end.at - start.at) / 1000;
    if (seconds <= 0) return undefined;
    const toCores = (ticks: number) => ticks / TICKS_PER_SECOND / seconds;
    const parts: Record<string, number> = {};
    let known = 0;
    for (const [pid, now] of end.perPid) {
      if (now.label === '') continue;
      const before = start.perPid.get(pid);
      const ticks = now.ticks - (before?.label === now.label ? before.ticks : 0);
      if (ticks <= 0) continue;
      parts[now.label] = (parts[now.label] ?? 0) + toCores(ticks);
      known += ticks;
    }
    const busy = end.busy - start.busy;
    parts['other processes (other engineers, short-lived ones)'] = Math.max(0, toCores(busy - known));
    return { seconds, busyCores: toCores(busy), parts };
  }

  private classify(pid: number, stat: string): string {
    const mine = this.labels.get(pid);
    if (mine !== undefined) return mine;
    if (pid === process.pid) return 'benchmark process (load generator, SSE, Kafka probe)';
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    if (comm === 'postgres') return 'PostgreSQL (all its processes)';
    if (comm === 'java') {
      const cmdline = read(`/proc/${pid}/cmdline`) ?? '';
      if (cmdline.includes('kafka.Kafka')) return 'Kafka broker';
      if (cmdline.includes('quarkus-run.jar')) return 'schema registry';
    }
    return '';
  }
}
