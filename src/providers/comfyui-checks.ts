/**
 * The comfyui provider's manifest-time checks (comfyui.ts runs them again before each request).
 */

import type { GenerateParams } from '../manifest/types.js';
import type { Diagnostic, SourcePosition } from '../util/errors.js';
import { loadWorkflow, unknownPlaceholders } from './comfyui-workflow.js';
import { AUTO_FROM_TARGETS } from './openai-models.js';
import { check, checkOptions, COMMON_OPTION_CHECKS, parseWxH, type OptionCheck } from './self-hosted.js';

const OPTION_CHECKS: Record<string, OptionCheck> = {
  workflow: check.nonEmptyString(),
  referenceWorkflow: check.nonEmptyString(),
  negative_prompt: check.string(),
  steps: check.integer(1, 1000),
  cfg_scale: check.number(0, 100),
  denoising_strength: check.number(0, 1),
  outputNode: check.nonEmptyString(),
  pollIntervalMs: check.number(1, 60_000),
  ...COMMON_OPTION_CHECKS,
};

/**
 * Manifest-time checks: the workflow files (readable, API format, known placeholders; relative
 * to `projectRoot`), the size, the options.
 */
export function validateComfyUiParams(params: GenerateParams, projectRoot: string, at: SourcePosition | undefined): Diagnostic[] {
  const out: Diagnostic[] = [];
  const error = (code: string, message: string, hint?: string): void => {
    out.push({ code, message, hint, at, severity: 'error' });
  };
  const warn = (code: string, message: string, hint?: string): void => {
    out.push({ code, message, hint, at, severity: 'warning' });
  };
  const options = params.options;
  out.push(...checkOptions('comfyui', options, OPTION_CHECKS, at));
  if (typeof options['workflow'] !== 'string') {
    if (options['workflow'] === undefined) {
      error(
        'E_MISSING_OPTION',
        'the comfyui provider needs a workflow: generate.workflow is not set',
        'export the graph from ComfyUI with "Export (API)" and set workflow: ./workflows/txt2img.json (relative to the manifest)',
      );
    }
    return out;
  }
  const names = ['workflow', 'referenceWorkflow'].filter((n) => typeof options[n] === 'string');
  let usesSize = false;
  for (const name of names) {
    const loaded = loadWorkflow(projectRoot, options[name] as string);
    if (!loaded.ok) {
      error(loaded.code, `${name}: ${loaded.message}`, loaded.hint);
      continue;
    }
    const used = loaded.value.placeholders;
    for (const { name: unknown, guess } of unknownPlaceholders(used)) {
      error(
        'E_UNKNOWN_PLACEHOLDER',
        `${name} "${loaded.value.given}" uses the unknown placeholder {{${unknown}}}`,
        guess ? `did you mean {{${guess}}}?` : 'known: {{prompt}}, {{negative_prompt}}, {{seed}}, {{width}}, {{height}}, {{reference_image}}, {{steps}}, {{cfg_scale}}, {{denoising_strength}}',
      );
    }
    if (!used.has('prompt')) {
      error(
        'E_INVALID_WORKFLOW',
        `${name} "${loaded.value.given}" has no {{prompt}} placeholder, so the asset's prompt would be ignored`,
        'put "{{prompt}}" as the text of the positive CLIPTextEncode node',
      );
    }
    if (!used.has('seed')) {
      warn(
        'W_NO_SEED_PLACEHOLDER',
        `${name} "${loaded.value.given}" has no {{seed}} placeholder: generate.seed cannot reach it`,
        'put "{{seed}}" as the KSampler seed',
      );
    }
    if (name === 'referenceWorkflow' && !used.has('reference_image')) {
      warn('W_NO_REFERENCE_PLACEHOLDER', `referenceWorkflow "${loaded.value.given}" has no {{reference_image}} placeholder: the style reference is not used`);
    }
    usesSize ||= used.has('width') || used.has('height');
  }
  if (usesSize && params.size !== AUTO_FROM_TARGETS) {
    const size = parseWxH(params.size);
    if (!size || size.width % 8 !== 0 || size.height % 8 !== 0) {
      const fix = (n: number): number => Math.max(64, Math.round(n / 8) * 8);
      error(
        'E_INVALID_SIZE',
        `size "${params.size}" cannot fill {{width}}/{{height}}: ComfyUI latents need edges that are multiples of 8`,
        size ? `the nearest valid size is "${fix(size.width)}x${fix(size.height)}"` : `write it like "1216x832", or use "${AUTO_FROM_TARGETS}"`,
      );
    }
  }
  return out;
}
