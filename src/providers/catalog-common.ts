/** What the openai and gemini model catalogs say alike about a declared model. */

import type { DeclaredModel } from '../manifest/types.js';
import type { DeclarationProblem } from './types.js';

/** A declaration of a model the table already knows: allowed (the table may be out of date), said once. */
export function knownModelWarning(id: string, checked: string): DeclarationProblem {
  return {
    field: [],
    code: 'W_MODEL_KNOWN',
    message: `gpt4k's table knows "${id}" (checked ${checked}); the declaration replaces what it says`,
    hint: 'remove the declaration to use the table, or keep it if the table is out of date',
    severity: 'warning',
  };
}

/** A declared price as a listing shows it. */
export function declaredPrice(price: NonNullable<DeclaredModel['price']>): string {
  if (typeof price === 'number') return `$${price} per image (declared)`;
  return `per quality as declared: ${JSON.stringify(price)}`;
}
