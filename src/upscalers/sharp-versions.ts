import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);

interface SharpPackage {
  /** The path of sharp's package.json. */
  file: string;
  json: { version: string; config?: { libvips?: string } };
}

let sharpPackageRead: SharpPackage | undefined;

/** sharp's package.json (its exports hide it: it is found beside the resolved entry point), read once. */
export function sharpPackage(): SharpPackage {
  if (!sharpPackageRead) {
    const entry = require.resolve('sharp');
    const file = path.join(entry.slice(0, entry.lastIndexOf(`${path.sep}sharp${path.sep}`) + 7), 'package.json');
    sharpPackageRead = { file, json: JSON.parse(readFileSync(file, 'utf8')) as SharpPackage['json'] };
  }
  return sharpPackageRead;
}

/**
 * `sharp.versions.sharp` and `.vips` as sharp would report them, read from the files sharp
 * reads them from (its package.json and the prebuilt libvips package's versions.json), so a
 * no-op build computes the lanczos key without loading libvips. Undefined where that is not
 * how this sharp is installed (libvips from the system, an unknown platform): load sharp then.
 */
export function sharpVersionsOnDisk(): { sharp: string; vips: string } | undefined {
  try {
    const { file, json } = sharpPackage();
    const sharp = json.version;
    const requireFromSharp = createRequire(file);
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
