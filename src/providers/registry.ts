import type { ImageProvider, ModelCatalog } from './types.js';

/**
 * Built-in providers, loaded on first use so a no-op build never pays for an SDK import.
 * A new backend is one file plus one line here.
 */
const loaders: Record<string, () => Promise<ImageProvider>> = {
  procedural: async () => (await import('./procedural.js')).proceduralProvider,
  openai: async () => (await import('./openai.js')).openaiProvider,
  gemini: async () => (await import('./gemini.js')).geminiProvider,
  sdwebui: async () => (await import('./sdwebui.js')).sdwebuiProvider,
  comfyui: async () => (await import('./comfyui.js')).comfyuiProvider,
};

const loaded = new Map<string, ImageProvider>();

export function providerNames(): string[] {
  return Object.keys(loaders);
}

export function hasProvider(name: string): boolean {
  return Object.hasOwn(loaders, name);
}

export async function getProvider(name: string): Promise<ImageProvider> {
  const cached = loaded.get(name);
  if (cached) return cached;
  const load = loaders[name];
  if (!load) throw new Error(`unknown provider "${name}"`);
  const provider = await load();
  loaded.set(name, provider);
  return provider;
}

/** For tests and plugins: register a provider under a name. */
export function registerProvider(provider: ImageProvider): void {
  loaders[provider.name] = async () => provider;
  loaded.set(provider.name, provider);
}

/**
 * The model tables of the providers that have one, loaded without their SDKs: what `like:` in
 * the manifest's `models:` may name, and what `gpt4k models` lists.
 */
const catalogLoaders: Record<string, () => Promise<ModelCatalog>> = {
  openai: async () => (await import('./openai-catalog.js')).openAiCatalog,
  gemini: async () => (await import('./gemini-catalog.js')).geminiCatalog,
};

/** Providers with a model table, in listing order. */
export function catalogProviders(): string[] {
  return Object.keys(catalogLoaders);
}

export async function getModelCatalog(provider: string): Promise<ModelCatalog | undefined> {
  const load = catalogLoaders[provider];
  return load ? load() : undefined;
}
