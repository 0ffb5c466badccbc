/**
 * Structured prompts are compiled while the manifest loads (manifest/prompt-compile.ts), so the
 * compiler lives in manifest/ (which must not import prompt/: prompt/lint reads the manifest).
 * This module keeps the old import path.
 */
export * from '../manifest/prompt-compile.js';
