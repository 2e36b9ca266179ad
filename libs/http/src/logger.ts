// The service logger lives in @tideline/observability (its lines carry the async context's
// fields); re-exported here, where services have always taken it from.
export { createServiceLogger } from '@tideline/observability';
