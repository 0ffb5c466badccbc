import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);

/**
 * `sharp.versions.sharp` and `.vips` as sharp would report them, read from the files sharp
 * reads them from (its package.json and the prebuilt libvips package's versions.json), so a
 * no-op build computes the lanczos key without loading libvips. Undefined where that is not
 * how this sharp is installed (libvips from the system, an unknown platform): load sharp then.
 */
export function sharpVersionsOnDisk(): { sharp: string; vips: string } | undefined {
  try {
    const entry = require.resolve('sharp');
    const sharpDir = entry.slice(0, entry.lastIndexOf(`${path.sep}sharp${path.sep}`) + 7);
    const sharp = (JSON.parse(readFileSync(path.join(sharpDir, 'package.json'), 'utf8')) as { version: string }).version;
    const requireFromSharp = createRequire(path.join(sharpDir, 'package.json'));
    // npm installs the one prebuilt libvips that matches this machine's libc (glibc or musl).
    for (const platform of [`${process.platform}-${process.arch}`, `${process.platform}musl-${process.arch}`]) {
      try {
        const versions = requireFromSharp(`@img/sharp-libvips-${platform}/versions`) as { vips?: unknown };
        if (typeof versions.vips === 'string') return { sharp, vips: versions.vips };
      } catch {
        // not this one
      }
    }
    return undefined;
  } catch {
    return undefined;
  }
}
