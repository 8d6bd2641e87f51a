// Bundles the timeline page (ui/) into dist/page/ with esbuild: the static files
// `rewind ui` serves, built with the package so nothing is fetched at run time.
// Run by `npm run build`, `prepare` and `test`; the bundle is build output, not committed.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist', 'page');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [path.join(root, 'ui', 'app.ts')],
  outfile: path.join(out, 'app.js'),
  bundle: true,
  format: 'iife',
  target: 'es2022',
  minify: true,
  sourcemap: false,
  logLevel: 'warning',
});
for (const file of ['index.html', 'app.css']) copyFileSync(path.join(root, 'ui', file), path.join(out, file));
// uPlot's stylesheet, from the package (the plot's script is in the bundle)
copyFileSync(path.join(root, 'node_modules', 'uplot', 'dist', 'uPlot.min.css'), path.join(out, 'uplot.css'));
// highlight.js's light theme for the source view (its grammars are in the bundle)
copyFileSync(path.join(root, 'node_modules', 'highlight.js', 'styles', 'github.css'), path.join(out, 'hljs.css'));
