import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is test/support/paths.ts). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The CC0 press profiles gpt4k ships as its built-ins (fogra39, swop-tr005): nothing outside the repository is needed. */
export const SHIPPED_PROFILES = path.join(REPO_ROOT, 'icc');
export const FOGRA39 = path.join(SHIPPED_PROFILES, 'FOGRA39L_coated.icc');
export const SWOP = path.join(SHIPPED_PROFILES, 'SWOP_TR005_coated_5.icc');

/** The built CLI (npm test builds dist/ before vitest runs). */
export const CLI = path.join(REPO_ROOT, 'bin', 'gpt4k.js');
