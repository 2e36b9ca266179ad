export { createHttpApp } from './app';
export { ANONYMOUS, ApiKeyAuth, ApiKeyVerifier, presentedKey, registerApiKeyAuth } from './auth';
export type { ApiKeyAuthOptions, AuthRefusal, Principal } from './auth';
export { YAML_CONTENT_TYPE, registerAsyncApiRoute } from './asyncapi';
export type { HttpAppOptions } from './app';
export { CORRELATION_HEADER, correlationIdFrom, traceIdOf } from './correlation';
export { errorHandler, handleNotFound, sendInvalid } from './errors';
export type { DependencyUnavailable, ErrorHandler, ErrorHandlerOptions } from './errors';
export { registerHealthRoutes } from './health';
export type { HealthRoutesOptions } from './health';
export { createServiceLogger } from './logger';
export { registerOpenApi } from './openapi';
export type { OpenApiDocument } from './openapi';
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
export type { FastifyDynamicSwaggerOptions } from '@fastify/swagger'; // loads its route-schema fields (summary, tags, hide) into FastifySchema for every app
