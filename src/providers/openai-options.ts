/**
 * The options the openai provider takes beyond model, prompt, size and quality (named as the
 * `openai` SDK's ImageGenerateParams / ImageEditParams name them), and their checks.
 */

import { closest } from '../manifest/suggest.js';
import type { OpenAiModelSpec } from './openai-model-table.js';

type Report = (code: string, message: string, hint?: string) => void;

/** Options a request may carry, beyond model, prompt, size and quality. */
export const OPENAI_REQUEST_OPTIONS = [
  'background',
  'output_format',
  'output_compression',
  'moderation',
  'input_fidelity',
  'complexity',
  'safety_identifier',
  'user',
] as const;

/**
 * Options that steer the transport, not the image: they must not change a cache key.
 * (The graph may leave these out of the generate node's key.)
 */
export const OPENAI_TRANSPORT_OPTIONS = [
  'apiKeyEnv',
  'baseURL',
  'maxRetries',
  'retryBaseDelayMs',
  'retryMaxDelayMs',
  'timeoutMs',
  'batchPollMs',
] as const;

const KNOWN_OPTIONS: readonly string[] = [...OPENAI_REQUEST_OPTIONS, ...OPENAI_TRANSPORT_OPTIONS];

/** Parameters of retired models, with the fix. */
const RETIRED_OPTIONS: Record<string, string> = {
  response_format: 'GPT image models always return base64; remove it',
  style: 'the "style" parameter belonged to dall-e-3; describe the style in the prompt instead',
  n: 'gpt4k makes one image per asset; remove it',
};

/** Checks every option: retired, unknown, or a value the API would refuse, each with its fix. */
export function checkOpenAiOptions(spec: OpenAiModelSpec, options: Record<string, unknown>, error: Report, warn: Report): void {
  for (const [name, value] of Object.entries(options)) {
    const retired = RETIRED_OPTIONS[name];
    if (retired) {
      error('E_RETIRED_OPTION', `option "${name}" is not accepted by ${spec.id}`, retired);
      continue;
    }
    if (!KNOWN_OPTIONS.includes(name)) {
      const guess = closest(name, KNOWN_OPTIONS);
      error(
        'E_UNKNOWN_OPTION',
        `unknown openai option "${name}"`,
        guess ? `did you mean "${guess}"?` : `known options: ${KNOWN_OPTIONS.join(', ')}`,
      );
      continue;
    }
    const problem = optionProblem(name, value);
    if (problem) error('E_INVALID_OPTION', `option ${name}: ${JSON.stringify(value)} ${problem}`);
  }
  const format = options['output_format'];
  if (options['output_compression'] !== undefined && format !== 'jpeg' && format !== 'webp') {
    error(
      'E_INVALID_OPTION',
      'option output_compression applies only to output_format jpeg or webp',
      'set output_format: jpeg (or webp), or remove output_compression',
    );
  }
  if (options['background'] === 'transparent') {
    if (format === 'jpeg') {
      error('E_INVALID_OPTION', 'background "transparent" needs output_format png or webp, not jpeg', 'use output_format: png');
    } else if (spec.transparentBackground !== 'supported') {
      warn(
        'W_UNSUPPORTED_OPTION',
        `${spec.id} ${spec.transparentBackground === 'preview' ? 'makes transparent backgrounds only as a preview' : 'does not make transparent backgrounds'}`,
        'use gpt-image-2.5-sunburst for transparent cut-outs, or background: opaque',
      );
    }
  }
  if (options['complexity'] !== undefined && !spec.complexity) {
    warn(
      'W_UNSUPPORTED_OPTION',
      `${spec.id} is not documented to take complexity (planning effort); the API may refuse it`,
      'remove complexity, or use a model that takes it: gpt-image-2.5-sunburst, gpt-image-2.6-sunburst (or their flare siblings)',
    );
  }
}

function optionProblem(name: string, value: unknown): string | undefined {
  const oneOf = (values: readonly string[]): string | undefined =>
    typeof value === 'string' && values.includes(value) ? undefined : `must be one of ${values.join(', ')}`;
  const number = (min: number, max = Infinity, integer = true): string | undefined =>
    typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max && (!integer || Number.isInteger(value))
      ? undefined
      : `must be ${integer ? 'an integer' : 'a number'} ${max === Infinity ? `>= ${min}` : `from ${min} to ${max}`}`;
  switch (name) {
    case 'background':
      return oneOf(['transparent', 'opaque', 'auto']);
    case 'output_format':
      return oneOf(['png', 'jpeg', 'webp']);
    case 'output_compression':
      return number(0, 100);
    case 'moderation':
      return oneOf(['auto', 'low']);
    case 'input_fidelity':
      return oneOf(['high', 'low']);
    case 'complexity':
      return oneOf(['low', 'medium', 'high']);
    case 'safety_identifier':
    case 'user':
      return typeof value === 'string' ? undefined : 'must be a string';
    case 'apiKeyEnv':
      return typeof value === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(value)
        ? undefined
        : 'must name an environment variable (letters, digits, _)';
    case 'baseURL':
      return typeof value === 'string' && /^https?:\/\//.test(value) ? undefined : 'must be an http(s) URL';
    case 'maxRetries':
      return number(0, 100);
    case 'retryBaseDelayMs':
    case 'retryMaxDelayMs':
      return number(0);
    case 'timeoutMs':
      return number(1, Infinity, false);
    default:
      return undefined;
  }
}

