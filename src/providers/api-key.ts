import { GptError } from '../util/errors.js';

/** How a remote provider names its key: the vendor, the default variable, an example value. */
export interface ApiKeySpec {
  vendor: string;
  defaultEnv: string;
  /** The start of a real key, for the hint's `export NAME=...`. */
  example: string;
  /** Where to get one, said in the hint for the default variable. */
  source?: string;
}

/**
 * The key from the environment (`generate.options.apiKeyEnv` names another variable), or the
 * E_NO_API_KEY error saying what to set. A value, so `plan` can say it before any request.
 */
export function apiKeyOrProblem(options: Record<string, unknown>, spec: ApiKeySpec): string | GptError {
  const named = typeof options['apiKeyEnv'] === 'string' ? options['apiKeyEnv'] : undefined;
  const envName = named ?? spec.defaultEnv;
  const key = process.env[envName]?.trim();
  if (key) return key;
  return new GptError('E_NO_API_KEY', `no ${spec.vendor} API key: the environment variable ${envName} is not set`, {
    hint: named
      ? `set ${envName} (named by generate.options.apiKeyEnv) to your ${spec.vendor} API key, e.g. export ${envName}=${spec.example}...`
      : `set ${envName} to ${spec.source ?? `your ${spec.vendor} API key`}, e.g. export ${envName}=${spec.example}... (or name another variable with generate.options.apiKeyEnv)`,
    haltsProvider: true,
  });
}

/** The key, or a thrown E_NO_API_KEY (which halts the provider for the rest of the build). */
export function readApiKey(options: Record<string, unknown>, spec: ApiKeySpec): string {
  const key = apiKeyOrProblem(options, spec);
  if (key instanceof GptError) throw key;
  return key;
}

/** The missing-key problem alone, for ImageProvider.credentialProblem. */
export function apiKeyProblem(options: Record<string, unknown>, spec: ApiKeySpec): GptError | undefined {
  const key = apiKeyOrProblem(options, spec);
  return key instanceof GptError ? key : undefined;
}
