/**
 * Identifiers that travel from the write side to the read side (customer ids): 1-100 letters,
 * digits, ".", "_", ":" or "-". order-api accepts a customer id only in this form and the read
 * side's routes only serve ids of it, so every accepted customer can be queried, and no id can
 * carry what PostgreSQL refuses in text (NUL) or what a URL path mangles (spaces, slashes).
 */
export const IDENTIFIER_PATTERN = '^[A-Za-z0-9._:-]{1,100}$';

/** Whether `value` is an identifier in the form of IDENTIFIER_PATTERN. */
export const isIdentifier = (value: string): boolean => IDENTIFIER.test(value);

const IDENTIFIER = new RegExp(IDENTIFIER_PATTERN);
