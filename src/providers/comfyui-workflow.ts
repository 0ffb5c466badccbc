/**
 * ComfyUI workflows as the manifest names them: an API-format JSON file (ComfyUI's
 * "Export (API)" / "Save (API Format)"), read, hashed for the cache key, checked, and filled in.
 *
 * Placeholders are strings anywhere in the workflow's input values:
 *
 * | placeholder              | value                                      | when it is the whole string |
 * |--------------------------|--------------------------------------------|-----------------------------|
 * | `{{prompt}}`             | the asset's prompt (style prefix included) | a string                    |
 * | `{{negative_prompt}}`    | options.negative_prompt, else ""           | a string                    |
 * | `{{seed}}`               | generate.seed, else one derived from the prompt | a number               |
 * | `{{width}}`, `{{height}}`| the generate size                          | numbers                     |
 * | `{{reference_image}}`    | the uploaded style reference (LoadImage's `image`) | a string            |
 * | `{{steps}}`              | options.steps, else 30                     | a number                    |
 * | `{{cfg_scale}}`          | options.cfg_scale, else 7                  | a number                    |
 * | `{{denoising_strength}}` | options.denoising_strength, else 0.55      | a number                    |
 *
 * A placeholder inside a longer string ("studio photo, {{prompt}}") is replaced as text.
 */

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { closest } from '../manifest/suggest.js';

export const PLACEHOLDERS = [
  'prompt',
  'negative_prompt',
  'seed',
  'width',
  'height',
  'reference_image',
  'steps',
  'cfg_scale',
  'denoising_strength',
] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

export const PLACEHOLDER_DEFAULTS = { steps: 30, cfg_scale: 7, denoising_strength: 0.55 } as const;

const PLACEHOLDER_PATTERN = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;
const WHOLE_PLACEHOLDER = /^\{\{\s*([A-Za-z0-9_]+)\s*\}\}$/;

/** One node of an API-format workflow. */
export interface WorkflowNode {
  class_type: string;
  inputs: Record<string, unknown>;
  _meta?: { title?: string };
}

export type Workflow = Record<string, WorkflowNode>;

export interface LoadedWorkflow {
  /** Absolute path. */
  file: string;
  /** As the manifest wrote it. */
  given: string;
  workflow: Workflow;
  /** sha256 of the file's bytes (first 16 hex digits): part of the generate key. */
  hash: string;
  /** Placeholders the workflow uses. */
  placeholders: Set<string>;
}

export type WorkflowResult = { ok: true; value: LoadedWorkflow } | { ok: false; code: string; message: string; hint?: string };

/** The workflow file's content hash for cache keys; a marker string when it cannot be read. */
export function workflowHash(projectRoot: string, given: string): string {
  const file = path.resolve(projectRoot, given);
  try {
    const bytes = readFileSync(file);
    return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  } catch {
    return `unreadable:${given}`;
  }
}

/** Reads, parses and checks the shape of a workflow file named in the manifest (relative to the project root, or absolute). */
export function loadWorkflow(projectRoot: string, given: string): WorkflowResult {
  const file = path.resolve(projectRoot, given);
  const shown = path.relative(projectRoot, file) || given;
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return {
      ok: false,
      code: 'E_MISSING_FILE',
      message: `ComfyUI workflow "${shown}" ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? 'error'})`}`,
      hint: 'the path is relative to the manifest; export the workflow from ComfyUI with "Export (API)"',
    };
  }
  let data: unknown;
  try {
    data = JSON.parse(bytes.toString('utf8')) as unknown;
  } catch (err) {
    return { ok: false, code: 'E_INVALID_WORKFLOW', message: `ComfyUI workflow "${shown}" is not JSON: ${(err as Error).message}` };
  }
  if (!isRecord(data)) {
    return { ok: false, code: 'E_INVALID_WORKFLOW', message: `ComfyUI workflow "${shown}" is not a JSON object of nodes` };
  }
  if (Array.isArray(data['nodes']) && Array.isArray(data['links'])) {
    return {
      ok: false,
      code: 'E_INVALID_WORKFLOW',
      message: `ComfyUI workflow "${shown}" is in the editor's format, not the API format`,
      hint: 'in ComfyUI use Workflow > Export (API) (older versions: enable dev mode, then "Save (API Format)")',
    };
  }
  for (const [id, node] of Object.entries(data)) {
    if (!isRecord(node) || typeof node['class_type'] !== 'string' || !isRecord(node['inputs'])) {
      return {
        ok: false,
        code: 'E_INVALID_WORKFLOW',
        message: `ComfyUI workflow "${shown}": node "${id}" has no class_type and inputs, so this is not an API-format workflow`,
        hint: 'export the workflow from ComfyUI with "Export (API)"',
      };
    }
  }
  const workflow = data as unknown as Workflow;
  return {
    ok: true,
    value: {
      file,
      given,
      workflow,
      hash: createHash('sha256').update(bytes).digest('hex').slice(0, 16),
      placeholders: placeholdersIn(workflow),
    },
  };
}

/** Every `{{name}}` used anywhere in the workflow's values. */
export function placeholdersIn(value: unknown, found: Set<string> = new Set()): Set<string> {
  if (typeof value === 'string') {
    for (const m of value.matchAll(PLACEHOLDER_PATTERN)) found.add(m[1] as string);
  } else if (Array.isArray(value)) {
    for (const item of value) placeholdersIn(item, found);
  } else if (isRecord(value)) {
    for (const item of Object.values(value)) placeholdersIn(item, found);
  }
  return found;
}

/** Placeholders gpt4k does not know, each with a did-you-mean where one is close. */
export function unknownPlaceholders(used: Set<string>): Array<{ name: string; guess: string | undefined }> {
  return [...used]
    .filter((name) => !(PLACEHOLDERS as readonly string[]).includes(name))
    .map((name) => ({ name, guess: closest(name, PLACEHOLDERS) }));
}

/**
 * A copy of the workflow with every placeholder replaced: a string that is exactly one
 * placeholder takes the value itself (numbers stay numbers); a placeholder inside a longer string
 * is replaced as text.
 */
export function fillWorkflow(workflow: Workflow, values: Partial<Record<Placeholder, string | number>>): Workflow {
  const fill = (value: unknown): unknown => {
    if (typeof value === 'string') {
      const whole = WHOLE_PLACEHOLDER.exec(value);
      if (whole) {
        const v = values[whole[1] as Placeholder];
        return v === undefined ? value : v;
      }
      return value.replace(PLACEHOLDER_PATTERN, (match, name: string) => {
        const v = values[name as Placeholder];
        return v === undefined ? match : String(v);
      });
    }
    if (Array.isArray(value)) return value.map(fill);
    if (isRecord(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fill(v)]));
    return value;
  };
  return fill(workflow) as Workflow;
}

/**
 * The seed for a manifest without one: derived from the prompt, so the same asset asks for the
 * same image (ComfyUI has no "random" seed value in the API format).
 */
export function derivedSeed(prompt: string): number {
  return createHash('sha256').update(prompt).digest().readUIntBE(0, 6) % 2 ** 48;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
