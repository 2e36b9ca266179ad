// The `observability` compose profile and its files under deploy/observability, checked
// offline: the profile stays opt-in, every mounted file exists, Prometheus scrapes every
// service on its port, and every metric the Grafana dashboard queries is one the services
// export (the dashboard cannot drift from the code unnoticed).
import fs from 'node:fs';
import path from 'node:path';
// Importing the instrumented libraries registers their metrics.
import '@tideline/http';
import '@tideline/messaging';
import '@tideline/realtime';
import { metricsRegistry } from '@tideline/observability';
import { parse } from 'yaml';
import { publishedPorts, serviceEnvironment } from './compose-check';

const repoRoot = path.resolve(__dirname, '../../..');
const deployDir = path.join(repoRoot, 'deploy', 'observability');
type YamlMap = Record<string, unknown>;

const compose = parse(fs.readFileSync(path.join(repoRoot, 'docker-compose.yml'), 'utf8'), {
  merge: true,
}) as { services: Record<string, YamlMap> };
const services = compose.services;
const telemetry = Object.keys(services).filter((name) => name.startsWith('telemetry-'));
const tideline = Object.entries(services).filter(([, s]) => String(s['image']).startsWith('tideline/'));

it('runs a collector, Jaeger, Prometheus and Grafana only with --profile observability', () => {
  expect(telemetry.sort()).toEqual([
    'telemetry-collector',
    'telemetry-grafana',
    'telemetry-jaeger',
    'telemetry-prometheus',
  ]);
  for (const [name, service] of Object.entries(services))
    expect([name, service['profiles']]).toEqual([
      name,
      name.startsWith('telemetry-') ? ['observability'] : undefined,
    ]);
});

it('mounts only files that exist in deploy/observability, read-only', () => {
  const mounts = telemetry.flatMap((name) => (services[name]!['volumes'] as string[] | undefined) ?? []);
  expect(mounts.length).toBeGreaterThanOrEqual(4);
  for (const mount of mounts) {
    const [source, , mode] = mount.split(':');
    expect(source).toMatch(/^\.\/deploy\/observability\//);
    expect(fs.existsSync(path.join(repoRoot, source!))).toBe(true);
    expect(mode).toBe('ro');
  }
});

it('lets every Tideline service send traces to the collector when OTEL_EXPORTER_OTLP_ENDPOINT says so', () => {
  for (const [, service] of tideline.filter(([name]) => name !== 'init'))
    expect(serviceEnvironment(service).get('OTEL_EXPORTER_OTLP_ENDPOINT')).toBe(
      '${OTEL_EXPORTER_OTLP_ENDPOINT:-}',
    );
  expect(publishedPorts(services['telemetry-collector']!)).toEqual(['127.0.0.1:4318:4318']);
  const collector = parse(fs.readFileSync(path.join(deployDir, 'otel-collector.yaml'), 'utf8')) as {
    exporters: Record<string, { endpoint: string }>;
  };
  expect(Object.values(collector.exporters).map((e) => e.endpoint)).toEqual(['telemetry-jaeger:4317']);
});

it('scrapes /metrics of every long-running Tideline service on its PORT', () => {
  const prometheus = parse(fs.readFileSync(path.join(deployDir, 'prometheus.yml'), 'utf8')) as {
    scrape_configs: {
      job_name: string;
      static_configs?: { targets: string[] }[];
      dns_sd_configs?: { names: string[]; port: number }[];
    }[];
  };
  const targets = new Map<string, string[]>();
  for (const job of prometheus.scrape_configs) {
    const listed = [
      ...(job.static_configs ?? []).flatMap((c) => c.targets),
      ...(job.dns_sd_configs ?? []).flatMap((c) => c.names.map((n) => `${n}:${c.port}`)),
    ];
    targets.set(job.job_name, listed);
  }
  for (const [name, service] of tideline.filter(([name]) => name !== 'init'))
    expect([name, targets.get(name)]).toEqual([name, [`${name}:${serviceEnvironment(service).get('PORT')}`]]);
});

it('builds the Grafana dashboard only from metrics the services export', () => {
  const dashboard = JSON.parse(
    fs.readFileSync(path.join(deployDir, 'grafana', 'dashboards', 'tideline.json'), 'utf8'),
  ) as {
    uid: string;
    panels: { type: string; title: string; targets?: { expr: string }[] }[];
  };
  const exported = new Set(metricsRegistry.getMetricsAsArray().map((metric) => metric.name));
  const queried = new Set(
    dashboard.panels
      .flatMap((panel) => panel.targets ?? [])
      .flatMap((target) => target.expr.match(/\b(tideline_[a-z_]+|http_server_[a-z_]+)\b/g) ?? [])
      .map((name) => name.replace(/_(bucket|sum|count)$/, '')),
  );
  expect(queried.size).toBeGreaterThanOrEqual(15);
  for (const name of queried) expect([name, exported.has(name)]).toEqual([name, true]);
  // Throughput, lag, dead letters and latency, as the issue asks.
  const titles = dashboard.panels.map((panel) => panel.title).join(' | ');
  for (const topic of ['consumed', 'lag (records)', 'lag (seconds)', 'Dead letters', 'p99'])
    expect(titles).toContain(topic);
  const provisioning = parse(
    fs.readFileSync(path.join(deployDir, 'grafana', 'provisioning', 'dashboards', 'dashboards.yaml'), 'utf8'),
  ) as { providers: { options: { path: string } }[] };
  const mount = (services['telemetry-grafana']!['volumes'] as string[]).find((v) =>
    v.includes('dashboards:'),
  );
  expect(mount?.split(':')[1]).toBe(provisioning.providers[0]!.options.path);
});
