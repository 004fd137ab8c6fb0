import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

export interface StoredObject {
  job: string;
  key: string;
  body: string;
  bytes: number;
}

/** Every object under an object-store directory: `<job>/<YYYYMMDD>/<name>`, decompressed. */
export function readObjects(directory: string): StoredObject[] {
  const out: StoredObject[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (!name.startsWith('.')) {
        const raw = readFileSync(path);
        const key = path.slice(directory.length + 1);
        out.push({ job: key.split('/')[0]!, key, body: (name.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8'), bytes: raw.length });
      }
    }
  };
  // A job that got no event (all filtered, say) never made its directory: no objects.
  if (existsSync(directory)) walk(directory);
  return out;
}

export function linesOf(object: StoredObject): string[] {
  return object.body.split('\n').filter((l) => l.length > 0);
}
