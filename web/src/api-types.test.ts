import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { generate, typesPath } from '../scripts/api-types.mjs';

// The server's test `the_web_consoles_copy_of_the_api_is_current` keeps openapi.json equal to /api; this
// keeps src/api-types.ts equal to what openapi.json gives, so the console cannot compile against an API
// the server no longer has.
describe('generated API types', () => {
  it('are what openapi.json gives (run `npm run gen:api` after changing the API)', async () => {
    expect(await readFile(typesPath, 'utf8')).toBe(await generate());
  });
});
