/** The part of lcms-wasm (LittleCMS 2.16 compiled to WebAssembly) that gpt4k uses. */
declare module 'lcms-wasm' {
  export interface LcmsModule {
    HEAPU8: Uint8Array;
    _malloc(size: number): number;
    _free(ptr: number): void;
    _cmsOpenProfileFromMem(ptr: number, size: number): number;
    _cmsCloseProfile(profile: number): number;
    _cmsCreate_sRGBProfile(): number;
    _cmsCreateTransform(input: number, inputFormat: number, output: number, outputFormat: number, intent: number, flags: number): number;
    _cmsDeleteTransform(transform: number): void;
    _cmsDoTransform(transform: number, input: number, output: number, pixels: number): void;
  }
  export function instantiate(options?: Record<string, unknown>): Promise<LcmsModule>;
  export const TYPE_RGB_8: number;
  export const TYPE_RGB_16: number;
  export const TYPE_CMYK_8: number;
  export const TYPE_GRAY_8: number;
  export const INTENT_PERCEPTUAL: number;
  export const INTENT_RELATIVE_COLORIMETRIC: number;
  export const INTENT_SATURATION: number;
  export const INTENT_ABSOLUTE_COLORIMETRIC: number;
  export const cmsFLAGS_BLACKPOINTCOMPENSATION: number;
}
