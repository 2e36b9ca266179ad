import { fieldErrors, fieldName } from './problem';

describe('fieldName', () => {
  it.each([
    ['/items/0/quantity', undefined, 'items[0].quantity'],
    ['/items/12', 'sku', 'items[12].sku'],
    ['', 'currency', 'currency'],
    ['', undefined, '(body)'],
    ['/a~1b/c~0d', undefined, 'a/b.c~d'],
  ])('names %j + %j as %s', (path, child, expected) => {
    expect(fieldName(path, child)).toBe(expected);
  });
});

describe('fieldErrors', () => {
  it('gives one entry per field, joining its messages, and prefixes non-body locations', () => {
    expect(
      fieldErrors([
        { keyword: 'type', instancePath: '/q', params: {}, message: 'must be integer' },
        { keyword: 'minimum', instancePath: '/q', params: {}, message: 'must be >= 1' },
        { keyword: 'minimum', instancePath: '/q', params: {}, message: 'must be >= 1' },
      ]),
    ).toEqual([{ field: 'q', message: 'must be integer; must be >= 1' }]);
    expect(
      fieldErrors(
        [{ keyword: 'pattern', instancePath: '/sku', params: {}, message: 'must match' }],
        'params',
      ),
    ).toEqual([{ field: 'params.sku', message: 'must match' }]);
  });
});
