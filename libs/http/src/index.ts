export { createHttpApp } from './app';
export type { HttpAppOptions } from './app';
export { CORRELATION_HEADER, correlationIdFrom, traceIdOf } from './correlation';
export { errorHandler, handleNotFound, sendInvalid } from './errors';
export type { DependencyUnavailable, ErrorHandler, ErrorHandlerOptions } from './errors';
export { registerHealthRoutes } from './health';
export type { HealthRoutesOptions } from './health';
export { createServiceLogger } from './logger';
export {
  PROBLEM_CONTENT_TYPE,
  fieldErrors,
  fieldName,
  problem,
  problemSchema,
  problemTypes,
  sendProblem,
} from './problem';
export type { FieldError, Problem, SchemaIssue } from './problem';
export { checkReadiness } from './readiness';
export type { ReadinessCheck, ReadinessReport } from './readiness';
