// Lint rules for the TypeScript sources and the build script. typescript-eslint's recommended set without
// type information keeps `npm run lint` fast enough for every CI run; eslint-config-prettier comes last so
// that layout is Prettier's business only.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import {defineConfig} from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {ignores: ['dist/', 'node_modules/', 'build/', '.cache/', 'benchmarks/results/', 'test/fixtures/']},
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      // `_`-prefixed names mark parameters a callback signature requires but the body does not use.
      '@typescript-eslint/no-unused-vars': [
        'error',
        {argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none'},
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: {sourceType: 'commonjs', globals: globals.node},
    rules: {'@typescript-eslint/no-require-imports': 'off'},
  },
  prettier,
);
