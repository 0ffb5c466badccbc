import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is test/support/paths.ts). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The CC0 press profiles live in ../shared/profiles beside the clone; never copied into the repo. */
export const SHARED_PROFILES = process.env.GPT4K_TEST_PROFILES ?? path.resolve(REPO_ROOT, '../shared/profiles');
export const FOGRA39 = path.join(SHARED_PROFILES, 'FOGRA39L_coated.icc');
export const SWOP = path.join(SHARED_PROFILES, 'SWOP_TR005_coated_5.icc');

/** The built CLI (npm test builds dist/ before vitest runs). */
export const CLI = path.join(REPO_ROOT, 'bin', 'gpt4k.js');
