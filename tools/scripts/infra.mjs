// Shared by start.mjs and test.mjs: is the infrastructure there, and can we start it?
import net from 'node:net';

export const defaults = {
  KAFKA_BROKERS: '127.0.0.1:9092',
  SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081/apis/ccompat/v7',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/tideline',
};

function tcp(host, port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** True when Kafka and the registry answer where the environment (or the defaults) say. */
export async function infraAnswers(env = process.env) {
  const [host, port] = (env.KAFKA_BROKERS ?? defaults.KAFKA_BROKERS).split(',')[0].trim().split(':');
  const registry = (env.SCHEMA_REGISTRY_URL ?? defaults.SCHEMA_REGISTRY_URL).replace(/\/+$/, '');
  const [kafka, registryOk] = await Promise.all([
    tcp(host, Number(port)),
    fetch(`${registry}/subjects`, { signal: AbortSignal.timeout(3000) }).then(
      (r) => r.ok,
      () => false,
    ),
  ]);
  return kafka && registryOk;
}

/** The user pointed the tests at their own infrastructure: never start or stop ours then. */
export function infraConfigured(env = process.env) {
  return Boolean(env.KAFKA_BROKERS || env.SCHEMA_REGISTRY_URL);
}
