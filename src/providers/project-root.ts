/**
 * Where the manifest lives, carried on `generate.options` as a hidden (symbol-keyed,
 * non-enumerable) property so that providers can resolve files the manifest names (a ComfyUI
 * workflow) without that absolute path entering any cache key, report or equality check: keys
 * serialize options as JSON, which skips it. A copy of the options made by spreading loses it, and
 * paths then resolve against the working directory.
 */

import path from 'node:path';
import type { GenerateParams } from '../manifest/types.js';

export const PROJECT_ROOT: unique symbol = Symbol.for('gpt4k.projectRoot');

type Rooted = Record<string, unknown> & { [PROJECT_ROOT]?: string };

/** Marks `params.options` with the project root (the loader calls this for every asset). */
export function attachProjectRoot(params: GenerateParams, root: string): void {
  Object.defineProperty(params.options, PROJECT_ROOT, { value: root, enumerable: false, writable: true, configurable: true });
}

/** The project root the loader attached, else the working directory. */
export function projectRootOf(options: Record<string, unknown>): string {
  const root = (options as Rooted)[PROJECT_ROOT];
  return typeof root === 'string' ? root : process.cwd();
}

/** A manifest path (relative to the project root, or absolute) made absolute. */
export function resolveProjectPath(options: Record<string, unknown>, file: string): string {
  return path.resolve(projectRootOf(options), file);
}
