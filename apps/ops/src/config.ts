import {
  databaseSessionVariables,
  infrastructureVariables,
  loadConfig,
  optionalDatabaseUrl,
  signingVariables,
  topicReplication,
  type Env,
} from '@tideline/config';

/** The only place the ops CLI reads the environment. */
export function loadOpsConfig(env: Env) {
  // DATABASE_URL: where projections keep their positions (replay moves them too); optional.
  // TOPIC_REPLICATION: the development override of `topics plan|apply` (--replication wins).
  return loadConfig(
    {
      ...infrastructureVariables,
      DATABASE_URL: optionalDatabaseUrl,
      ...databaseSessionVariables('tideline-ops'),
      TOPIC_REPLICATION: topicReplication,
    },
    env,
  );
}

export type OpsConfig = ReturnType<typeof loadOpsConfig>;

/** The SIGNING_* variables, for the commands that verify records (projection rebuild). */
export function loadSigningConfig(env: Env) {
  return loadConfig(signingVariables, env);
}
