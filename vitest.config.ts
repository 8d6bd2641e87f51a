import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    // the tests' recordings share a file store of their own, not the machine's (docs/trace-format.md)
    env: { REWIND_FILE_STORE: path.join(root, 'tests', '.build', 'file-store') },
  },
});
