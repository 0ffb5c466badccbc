/**
 * One Gemini `generateContent` request, built the same way for the direct call (gemini.ts) and
 * for a line of a batch (gemini-batch.ts), so a batched image is the image the direct path
 * would have made: the model, the style's references as inline image parts (in order, before
 * the prompt text), `responseModalities: [IMAGE]`, `imageConfig` and the seed.
 */

import { GoogleGenAI, Modality, type Content, type GenerateContentConfig } from '@google/genai';
import type { GenerateParams } from '../manifest/types.js';
import { geminiImageConfig } from './gemini-models.js';
import { referenceImages, type GenerateRequest } from './types.js';

export interface GeminiContentRequest {
  model: string;
  contents: Content[];
  config: GenerateContentConfig;
  /** What went into imageConfig (aspectRatio, imageSize), for the action record. */
  imageConfig: Record<string, string>;
}

export function geminiContentRequest(request: GenerateRequest): GeminiContentRequest {
  const params = request.params;
  const imageConfig = geminiImageConfig(params, request.width, request.height);
  const config: GenerateContentConfig = {
    responseModalities: [Modality.IMAGE],
    ...(Object.keys(imageConfig).length > 0 ? { imageConfig } : {}),
    ...(params.seed !== undefined ? { seed: params.seed } : {}),
  };
  const parts: NonNullable<Content['parts']> = referenceImages(request).map((ref) => ({
    inlineData: { mimeType: ref.contentType ?? 'image/png', data: ref.image.toString('base64') },
  }));
  parts.push({ text: request.prompt });
  return { model: params.model, contents: [{ role: 'user', parts }], config, imageConfig: imageConfig as Record<string, string> };
}

/** The SDK client for these parameters: the Gemini Developer API on v1beta, no SDK retries. */
export function geminiClient(apiKey: string, options: { baseUrl?: string | undefined; timeoutMs: number }): GoogleGenAI {
  return new GoogleGenAI({
    apiKey,
    vertexai: false,
    // @google/genai 3.x defaults to the v1 API; Google documents image generation (imageConfig,
    // the preview image models) and batch mode on v1beta, which 1.x used, so the wire stays as it was.
    apiVersion: 'v1beta',
    httpOptions: { ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}), timeout: options.timeoutMs },
  });
}

/** `options.baseUrl` when the manifest sets one (else the SDK reads GOOGLE_GEMINI_BASE_URL). */
export const geminiBaseUrl = (params: GenerateParams): string | undefined =>
  typeof params.options['baseUrl'] === 'string' ? params.options['baseUrl'] : undefined;
