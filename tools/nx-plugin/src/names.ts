// Names the generators accept and derive. A bad name fails with one line, before anything is written.

export class GeneratorError extends Error {}

const KEBAB = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const PASCAL = /^[A-Z][a-z0-9]+([A-Z][a-z0-9]+)*$/;

export function requireKebab(what: string, name: string): void {
  if (!KEBAB.test(name))
    throw new GeneratorError(
      `${what} "${name}" must be kebab-case (lower-case words joined by "-", e.g. billing-api)`,
    );
}

export function requirePascal(what: string, name: string): void {
  if (!PASCAL.test(name))
    throw new GeneratorError(`${what} "${name}" must be PascalCase (e.g. InvoiceIssued)`);
}

/** InvoiceIssued → invoice-issued */
export const kebabOf = (pascal: string): string =>
  pascal.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();

/** billing-api → BillingApi */
export const pascalOf = (kebab: string): string =>
  kebab.replace(/(^|-)([a-z0-9])/g, (_match, _dash: string, c: string) => c.toUpperCase());

/** billing-api → billingApi */
export const camelOf = (kebab: string): string => {
  const pascal = pascalOf(kebab);
  return pascal.charAt(0).toLowerCase() + pascal.slice(1);
};

/** The topic of an event: `<domain>.<event-name>.v<major>`. */
export const topicOf = (domain: string, event: string, major = 1): string =>
  `${domain}.${kebabOf(event)}.v${major}`;

/** The descriptor libs/contracts generates for a topic (billing.invoice-issued.v1 → invoiceIssuedTopic). */
export const descriptorOf = (topic: string): string => `${camelOf(topic.split('.')[1] ?? '')}Topic`;

/** invoiceId → invoice_id, billing-api → billing_api */
export const snakeOf = (name: string): string =>
  name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replaceAll('-', '_')
    .toLowerCase();
