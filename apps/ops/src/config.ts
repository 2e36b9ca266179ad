import { infrastructureVariables, loadConfig, type Env } from '@tideline/config';

/** The only place the ops CLI reads the environment. */
export function loadOpsConfig(env: Env) {
  return loadConfig(infrastructureVariables, env);
}

export type OpsConfig = ReturnType<typeof loadOpsConfig>;
