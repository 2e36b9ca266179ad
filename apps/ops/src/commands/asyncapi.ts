import { asyncApiDocument, type AsyncApiDocument } from '@tideline/messaging';
import { stringify } from 'yaml';
import { CliError } from '../cli-error';
import type { CommandContext } from '../context';

/** Errors and warnings `@asyncapi/parser` (with the Avro schema parser) finds in a document. */
export async function asyncApiProblems(document: AsyncApiDocument): Promise<string[]> {
  const [{ Parser, DiagnosticSeverity }, { AvroSchemaParser }] = await Promise.all([
    import('@asyncapi/parser'),
    import('@asyncapi/avro-schema-parser'),
  ]);
  const parser = new Parser();
  parser.registerSchemaParser(AvroSchemaParser());
  const { diagnostics } = await parser.parse(JSON.stringify(document));
  return (
    diagnostics
      // Errors (0) and warnings (1); information and hints left out.
      .filter((d) => Number(d.severity) <= Number(DiagnosticSeverity.Warning))
      .map((d) => `${d.message} at /${d.path.join('/')}`)
  );
}

/** The services the catalog names (producers and consumer groups). */
export const catalogServices = (ctx: CommandContext): string[] =>
  [...new Set(ctx.topics.flatMap((t) => [t.owner, ...t.consumers]))].sort();

/**
 * `asyncapi [--service S]`: the AsyncAPI 3 document of the catalog (YAML; JSON with --json), validated with
 * @asyncapi/parser before it is printed.
 */
export async function asyncapi(ctx: CommandContext): Promise<void> {
  const service = ctx.options.service;
  if (service !== undefined && !catalogServices(ctx).includes(service)) {
    throw new CliError(
      `the catalog has no service ${service}; it names ${catalogServices(ctx).join(', ')}`,
      'TDL_CLI_UNKNOWN_SERVICE',
    );
  }
  const document = asyncApiDocument(ctx.topics, { service });
  const problems = await asyncApiProblems(document);
  if (problems.length > 0) {
    throw new CliError(
      `the generated AsyncAPI document is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}): ${problems.slice(0, 3).join('; ')}`,
      'TDL_CLI_CATALOG_INVALID',
    );
  }
  ctx.out.line(stringify(document).trimEnd());
  ctx.out.result(document);
}
