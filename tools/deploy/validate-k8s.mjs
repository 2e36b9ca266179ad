#!/usr/bin/env node
// Validates rendered Kubernetes resources without a cluster: built-in kinds against the
// Kubernetes OpenAPI schemas (kubernetes-models' validate()), custom resources against the CRD
// schemas kept in tools/deploy/crds/. Prints one line per problem; exits 1 when there is any.
//
//   kubectl kustomize k8s/overlays/prod | node tools/deploy/validate-k8s.mjs
//
// tools/deploy/test/k8s.spec.ts runs it on every overlay (it is an ES module, which jest's
// CommonJS runtime cannot import).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parseAllDocuments } from 'yaml';

const crdDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'crds');

/**
 * Strict field validation, as the API server applies it for kubectl: an object whose schema
 * lists its properties accepts no others, unless it preserves unknown fields.
 */
function closeObjects(schema) {
  if (Array.isArray(schema)) return schema.map(closeObjects);
  if (typeof schema !== 'object' || schema === null) return schema;
  const closed = Object.fromEntries(Object.entries(schema).map(([key, value]) => [key, closeObjects(value)]));
  if (
    closed.properties !== undefined &&
    closed.additionalProperties === undefined &&
    closed['x-kubernetes-preserve-unknown-fields'] !== true
  )
    closed.additionalProperties = false;
  return closed;
}

function crdValidators() {
  const ajv = new Ajv({ allErrors: true, strict: true });
  ajv.addKeyword('x-kubernetes-preserve-unknown-fields');
  ajv.addKeyword('x-kubernetes-int-or-string');
  const int = (bits) => ({
    type: 'number',
    validate: (n) => Number.isInteger(n) && Math.abs(n) < 2 ** (bits - 1),
  });
  ajv.addFormat('int32', int(32));
  ajv.addFormat('int64', int(64));
  const validators = new Map();
  for (const file of fs.readdirSync(crdDir).filter((name) => name.endsWith('.yaml'))) {
    const [document] = parseAllDocuments(fs.readFileSync(path.join(crdDir, file), 'utf8'));
    const { apiVersion, kind, schema, $defs } = document.toJS();
    validators.set(`${apiVersion}/${kind}`, ajv.compile(closeObjects({ ...schema, $defs })));
  }
  return validators;
}

const describe = (resource) => `${resource?.kind ?? '?'}/${resource?.metadata?.name ?? '?'}`;
const format = (errors) =>
  errors.map((error) => {
    const extra = error.params?.additionalProperty ? ` "${error.params.additionalProperty}"` : '';
    return `${error.instancePath || '/'} ${error.message}${extra}`;
  });

/** Every schema problem of the resources, as `Kind/name: /path message` lines. */
export async function validateResources(resources) {
  const crds = crdValidators();
  const problems = [];
  for (const resource of resources) {
    const { apiVersion, kind } = resource ?? {};
    if (typeof apiVersion !== 'string' || typeof kind !== 'string') {
      problems.push(`${describe(resource)}: no apiVersion and kind`);
      continue;
    }
    const crd = crds.get(`${apiVersion}/${kind}`);
    if (crd) {
      if (!crd(resource))
        problems.push(...format(crd.errors).map((line) => `${describe(resource)}: ${line}`));
      continue;
    }
    let Model;
    try {
      ({ [kind]: Model } = await import(`kubernetes-models/${apiVersion}/${kind}`));
    } catch {
      Model = undefined;
    }
    if (typeof Model !== 'function') {
      problems.push(
        `${describe(resource)}: no schema for ${apiVersion} ${kind} (neither a Kubernetes kind nor a CRD in tools/deploy/crds)`,
      );
      continue;
    }
    try {
      new Model(resource).validate();
    } catch (error) {
      const lines = Array.isArray(error.errors) ? format(error.errors) : [error.message];
      problems.push(...lines.map((line) => `${describe(resource)}: ${line}`));
    }
  }
  return problems;
}

/** The resources of a multi-document YAML stream, without empty documents. */
export function parseResources(text) {
  return parseAllDocuments(text)
    .map((document) => {
      if (document.errors.length > 0) throw new Error(`invalid YAML: ${document.errors[0].message}`);
      return document.toJS();
    })
    .filter((resource) => resource !== null && resource !== undefined);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const input = fs.readFileSync(0, 'utf8');
  const resources = parseResources(input);
  const problems = await validateResources(resources);
  for (const problem of problems) process.stdout.write(`${problem}\n`);
  if (resources.length === 0) {
    process.stderr.write('validate-k8s: no resources on stdin\n');
    process.exitCode = 1;
  } else if (problems.length > 0) process.exitCode = 1;
}
