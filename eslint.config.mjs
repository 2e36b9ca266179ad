// Lint with type information, module boundaries from nx tags on two axes (scope:*, type:*),
// and the rules that keep tests honest.
import js from '@eslint/js';
import nx from '@nx/eslint-plugin';
import jest from 'eslint-plugin-jest';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

const IO_LIBRARIES = [
  'kafkajs',
  '@kafkajs/*',
  'pg',
  'pg-*',
  'fastify',
  '@fastify/*',
  'ws',
  'testcontainers',
  '@testcontainers/*',
  'node:*',
];

/** Module boundaries from nx tags; tests may also use the testing lib. */
function boundaries(inTests) {
  const testing = inTests ? ['type:testing'] : [];
  return [
    'error',
    {
      enforceBuildableLibDependency: false,
      allow: [],
      depConstraints: [
        // Layers: apps → adapters → contracts / domain.
        {
          sourceTag: 'type:app',
          onlyDependOnLibsWithTags: ['type:adapter', 'type:domain', 'type:contracts', ...testing],
        },
        {
          sourceTag: 'type:adapter',
          onlyDependOnLibsWithTags: ['type:adapter', 'type:domain', 'type:contracts', ...testing],
        },
        {
          sourceTag: 'type:domain',
          onlyDependOnLibsWithTags: ['type:domain', 'type:contracts', ...testing],
          bannedExternalImports: IO_LIBRARIES,
        },
        {
          sourceTag: 'type:contracts',
          onlyDependOnLibsWithTags: ['type:contracts', ...testing],
          bannedExternalImports: ['kafkajs', '@kafkajs/*', 'pg', 'fastify', 'testcontainers'],
        },
        {
          sourceTag: 'type:testing',
          onlyDependOnLibsWithTags: ['type:contracts', 'type:domain', 'type:adapter', 'type:testing'],
        },
        {
          sourceTag: 'type:tool',
          onlyDependOnLibsWithTags: ['type:contracts', 'type:adapter', 'type:testing'],
        },
        // Scopes: shared code knows no product; the ops CLI and the order services only share libs.
        { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
        { sourceTag: 'scope:orders', onlyDependOnLibsWithTags: ['scope:shared', 'scope:orders'] },
        { sourceTag: 'scope:ops', onlyDependOnLibsWithTags: ['scope:shared', 'scope:orders', 'scope:ops'] },
      ],
    },
  ];
}

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      '**/coverage/**',
      '.nx/**',
      '.stack/**',
      '**/*.cjs',
      '**/*.mjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@nx': nx },
    rules: {
      '@nx/enforce-module-boundaries': boundaries(false),
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      'no-console': 'error',
    },
  },
  {
    // Only libs/messaging talks to Kafka (and the test harness, to set tests up).
    files: ['**/*.ts'],
    ignores: ['libs/messaging/**', 'libs/testing/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['kafkajs'], message: 'Only libs/messaging imports kafkajs; use @tideline/messaging.' },
            {
              group: ['@kafkajs/*'],
              message: 'Only libs/messaging talks to the schema registry; use @tideline/messaging.',
            },
          ],
        },
      ],
    },
  },
  {
    // Domain libraries do no I/O at all: no Node built-ins either (nx's bannedExternalImports
    // does not see `node:` imports). Repeats the kafkajs patterns: a later rule entry replaces earlier ones.
    files: ['libs/orders-domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*'], message: 'Domain code does no I/O: pass what it needs in as arguments.' },
            { group: ['kafkajs', '@kafkajs/*', 'pg', 'fastify'], message: 'Domain code does no I/O.' },
          ],
          paths: ['fs', 'fs/promises', 'net', 'http', 'https', 'child_process', 'crypto', 'os', 'dns'].map(
            (name) => ({ name, message: 'Domain code does no I/O: pass what it needs in as arguments.' }),
          ),
        },
      ],
    },
  },
  {
    // process.env is read in exactly one place per app: its config module (and main.ts hands it over).
    files: ['apps/**/*.ts', 'libs/**/*.ts'],
    ignores: [
      '**/main.ts',
      '**/*.spec.ts',
      '**/src/test-support/**',
      'libs/testing/**',
      'libs/contracts/scripts/**',
    ],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Read configuration through the app config module.' },
      ],
    },
  },
  {
    files: ['**/*.spec.ts', 'libs/testing/**/*.ts'],
    ...jest.configs['flat/recommended'],
    rules: {
      ...jest.configs['flat/recommended'].rules,
      '@nx/enforce-module-boundaries': boundaries(true),
      'jest/no-focused-tests': 'error',
      'jest/no-disabled-tests': 'error',
      'jest/expect-expect': ['error', { assertFunctionNames: ['expect', 'expect*', 'assert*'] }],
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // Test support code (fixtures, child processes for crash tests, e2e and fault helpers) may use the test harness too.
    files: ['**/src/test-support/**/*.ts', '**/e2e/**/*.ts', '**/faults/**/*.ts'],
    rules: {
      '@nx/enforce-module-boundaries': boundaries(true),
    },
  },
  prettier,
);
