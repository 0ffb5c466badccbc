import type { Upscaler } from './types.js';

/** Built-in upscale engines, loaded on first use. A new engine is one file plus one line here. */
const loaders: Record<string, () => Promise<Upscaler>> = {
  lanczos: async () => (await import('./lanczos.js')).lanczosUpscaler,
  realesrgan: async () => (await import('./realesrgan.js')).realesrganUpscaler,
};

const loaded = new Map<string, Upscaler>();

export function upscalerNames(): string[] {
  return Object.keys(loaders);
}

export function hasUpscaler(name: string): boolean {
  return Object.hasOwn(loaders, name);
}

export async function getUpscaler(name: string): Promise<Upscaler> {
  const cached = loaded.get(name);
  if (cached) return cached;
  const load = loaders[name];
  if (!load) throw new Error(`unknown upscale engine "${name}"`);
  const upscaler = await load();
  loaded.set(name, upscaler);
  return upscaler;
}
