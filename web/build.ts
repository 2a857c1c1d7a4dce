// Builds the admin UI into web/dist/ (index.html, app.js, app.css), minified, with no external assets: the
// admin listener serves these three files and the UI works without internet.
//   node --import tsx web/build.ts
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const webDir = dirname(fileURLToPath(import.meta.url));

export async function buildWeb(outdir: string = join(webDir, 'dist')): Promise<string> {
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  await build({
    entryPoints: [
      { in: join(webDir, 'src', 'main.tsx'), out: 'app' },
      { in: join(webDir, 'src', 'app.css'), out: 'app' },
    ],
    outdir,
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022', 'chrome111', 'firefox113', 'safari16.4'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    tsconfig: join(webDir, 'tsconfig.json'),
    legalComments: 'none',
    logLevel: 'warning',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  await copyFile(join(webDir, 'index.html'), join(outdir, 'index.html'));
  return outdir;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = await buildWeb();
  console.log(`admin UI built into ${out}`);
}
