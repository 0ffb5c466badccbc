import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SCHEMA_SHA256, batch, manifest } from '../src/manifest/schema-validator.generated.js';

/** scripts/compile-schema.mjs (plain JS: imported by URL, so its exports are untyped here). */
interface Generator {
  SCHEMA_FILE: string;
  GENERATED_FILE: string;
  generate(schemaText: string): string;
}
const generator = async (): Promise<Generator> => (await import(new URL('../scripts/compile-schema.mjs', import.meta.url).href)) as Generator;

describe('the precompiled schema validators', () => {
  it('were generated from the current schemas/pipeline.schema.json (else run npm run schema)', async () => {
    const { SCHEMA_FILE } = await generator();
    const hash = createHash('sha256').update(readFileSync(SCHEMA_FILE, 'utf8')).digest('hex');
    expect(SCHEMA_SHA256, 'schemas/pipeline.schema.json changed: run npm run schema').toBe(hash);
  });

  it('match what scripts/compile-schema.mjs generates now, byte for byte (else run npm run schema)', async () => {
    const { SCHEMA_FILE, GENERATED_FILE, generate } = await generator();
    const fresh = generate(readFileSync(SCHEMA_FILE, 'utf8'));
    const committed = readFileSync(GENERATED_FILE, 'utf8');
    // Not toBe on the 180 KB texts: a failure should say what to do, not print both files.
    expect(committed === fresh, 'src/manifest/schema-validator.generated.ts is stale: run npm run schema').toBe(true);
  });

  it('validate without compiling anything, with verbose errors (parentSchema, data)', () => {
    expect(manifest({ version: 1 })).toBe(true);
    expect(manifest({ version: 1, bogus: true, assets: { 'bad id!': { prompt: 'x' } } })).toBe(false);
    const keywords = (manifest.errors ?? []).map((e) => e.keyword);
    expect(keywords).toContain('additionalProperties');
    expect(keywords).toContain('pattern'); // allErrors: both failures reported
    const pattern = manifest.errors?.find((e) => e.keyword === 'pattern');
    expect((pattern?.parentSchema as { errorCode?: string } | undefined)?.errorCode).toBe('E_BAD_ID');
    expect(pattern?.data).toBe('bad id!');
    expect(batch([{ id: 'a', prompt: 'x' }])).toBe(true);
    expect(batch({})).toBe(false);
  });
});
