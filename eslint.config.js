// Size rules only (docs/architecture.md, "Reading the code"): a file holds one concept and fits in a reader's
// head; a function reads in one screen. Style is left to the reviewer; the dependency rules live in
// .dependency-cruiser.cjs.
import tseslint from 'typescript-eslint';

const maxLines = ['error', { max: 400, skipBlankLines: false, skipComments: false }];
const maxFunction = ['error', { max: 80, skipBlankLines: true, skipComments: true, IIFEs: true }];

export default tseslint.config(
  { ignores: ['dist/**', 'web/dist/**', 'node_modules/**', 'test-artifacts/**'] },
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: { parser: tseslint.parser },
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'off' },
    rules: { 'max-lines': maxLines },
  },
  // Tests read as a list of cases inside one describe; their functions are not held to the size rule.
  { files: ['src/**/*.ts', 'web/src/**/*.ts', 'web/src/**/*.tsx', 'scripts/**/*.ts'], rules: { 'max-lines-per-function': maxFunction } },
);
