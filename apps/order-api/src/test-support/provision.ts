import { createKafka, planTopics, applyTopicPlan, registerSchemas, RegistryCodec } from '@tideline/messaging';
import { testInfra } from '@tideline/testing';
import { producedTopics } from '../config';

/**
 * What `tideline topics apply --execute` and `tideline schemas register --execute` do for
 * order-api's topics: both idempotent, so tests sharing the catalog topics can all run it.
 */
export async function provisionProducedTopics(): Promise<void> {
  const infra = testInfra();
  const admin = createKafka({
    brokers: infra.kafkaBrokers,
    clientId: 'order-api-test',
    failFast: true,
  }).admin();
  await admin.connect();
  try {
    const plan = await planTopics(admin, [...producedTopics], { replication: infra.topicReplication });
    if (plan.conflicts.length > 0) throw new Error(`topic conflicts: ${JSON.stringify(plan.conflicts)}`);
    if (plan.changes) await applyTopicPlan(admin, plan);
  } finally {
    await admin.disconnect();
  }
  await registerSchemas(new RegistryCodec({ registryUrl: infra.registryUrl }), [...producedTopics]);
}
