import { orderPlacedTopic } from '@tideline/contracts';
import { renderType, schemaFieldChanges } from './schema-diff';

const registered = orderPlacedTopic.valueSchema as unknown as {
  fields: { name: string; type: unknown; doc?: string; default?: unknown }[];
};
const copy = () => JSON.parse(JSON.stringify(registered)) as typeof registered;

describe('schemaFieldChanges', () => {
  it('finds nothing between a schema and itself', () => {
    expect(schemaFieldChanges(registered, copy())).toEqual([]);
  });

  it('names added, removed, retyped, re-defaulted and re-documented fields, nested ones by path', () => {
    const local = copy();
    local.fields.push({ name: 'channel', type: ['null', 'string'], default: null, doc: 'sales channel' });
    const removed = local.fields.findIndex((f) => f.name === 'customerId');
    local.fields.splice(removed, 1);
    const lines = local.fields.find((f) => f.name === 'lines')!;
    const line = (lines.type as { items: { fields: { name: string; type: unknown; doc?: string }[] } }).items;
    line.fields.find((f) => f.name === 'quantity')!.type = 'long';
    line.fields.find((f) => f.name === 'sku')!.doc = 'stock keeping unit';

    const changes = schemaFieldChanges(registered, local);
    expect(changes).toEqual(
      expect.arrayContaining([
        { kind: 'added', path: 'channel', type: '[null,string]', default: null },
        { kind: 'removed', path: 'customerId', type: 'string' },
        { kind: 'type', path: 'lines[].quantity', from: 'int', to: 'long' },
        expect.objectContaining({ kind: 'doc', path: 'lines[].sku', to: 'stock keeping unit' }),
      ]),
    );
    expect(changes).toHaveLength(4);
  });

  it('renders types briefly', () => {
    expect(renderType({ type: 'array', items: { type: 'record', name: 'x.OrderLine', fields: [] } })).toBe(
      'array<record OrderLine>',
    );
    expect(renderType({ type: 'long', logicalType: 'timestamp-millis' })).toBe('long (timestamp-millis)');
    expect(renderType(['null', 'string'])).toBe('[null,string]');
  });
});
