/** The step runners, as one module the engine loads on first use (they pull in sharp and LittleCMS). */
export { decodeImage, encodePng, imageExtension } from './decode.js';
export { runGenerate } from './generate.js';
export { runBalance, runNormalize } from './normalize.js';
export { cleanupBackground } from './cleanup.js';
export { runRender } from './render.js';
export { runUpscale } from './upscale.js';
export { shareCores } from './image-threads.js';
