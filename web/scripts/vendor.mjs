// Copies the part of @gouvfr/dsfr the app uses into web/vendor/dsfr/: one concatenated
// stylesheet (core + the components we render), the fonts and icons it references, nothing else.
// Why not the whole dist: dsfr.min.css alone is 728 kB; this keeps the first load small.
import { readFileSync, writeFileSync, mkdirSync, copyFileSync, rmSync, existsSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const webRoot = join(here, '..');
const require = createRequire(import.meta.url);
let dist;
try {
  dist = join(dirname(require.resolve('@gouvfr/dsfr/package.json')), 'dist');
} catch {
  console.error('vendor: @gouvfr/dsfr is not installed (run npm ci in web/)');
  process.exit(1);
}
const out = join(webRoot, 'vendor', 'dsfr');

// Only these components are rendered by the app.
const COMPONENTS = ['button', 'alert', 'badge', 'callout', 'form', 'input', 'select', 'radio',
  'stepper', 'header', 'footer', 'logo', 'skiplink', 'link', 'notice', 'tag'];
// Weights the app uses (58 kB each); other @font-face rules are dropped: the browser falls back to
// the nearest weight (medium 500 renders as regular), which keeps the first load under 200 kB.
const FONTS = ['Marianne-Regular', 'Marianne-Bold'];

const sources = [join(dist, 'core', 'core.main.min.css'),
  ...COMPONENTS.map((c) => join(dist, 'component', c, `${c}.main.min.css`))];

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const assets = new Set();
let css = `/* @gouvfr/dsfr ${require('@gouvfr/dsfr/package.json').version} — subset: core, ${COMPONENTS.join(', ')} (MIT; Marianne font: see DSFR licence) */\n`;
for (const file of sources) {
  let text = readFileSync(file, 'utf8');
  text = text.replace(/\/\*# sourceMappingURL=[^*]*\*\//g, '');
  text = text.replace(/@font-face\{[^}]*\}/g, (rule) => {
    const m = rule.match(/fonts\/([A-Za-z_-]+)\.woff2/);
    if (!m || !FONTS.includes(m[1])) return '';
    return rule.replace(/,url\([^)]*\.woff\) format\("woff"\)/, '');
  });
  text = text.replace(/url\((["']?)([^)"']+)\1\)/g, (whole, q, url) => {
    if (url.startsWith('data:')) return whole;
    const abs = join(dirname(file), url);
    const rel = posix.normalize(relative(dist, abs).split('\\').join('/'));
    assets.add(rel);
    return `url(${rel})`;
  });
  css += text + '\n';
}
writeFileSync(join(out, 'dsfr.css'), css);
for (const rel of assets) {
  const src = join(dist, rel);
  if (!existsSync(src)) { console.warn(`vendor: missing ${rel}`); continue; }
  mkdirSync(dirname(join(out, rel)), { recursive: true });
  copyFileSync(src, join(out, rel));
}
// Print stylesheet is loaded with media="print" so it costs nothing on screen.
copyFileSync(join(dist, 'dsfr.print.min.css'), join(out, 'dsfr.print.css'));
const favicon = join(dist, 'favicon', 'favicon.svg');
if (existsSync(favicon)) copyFileSync(favicon, join(out, 'favicon.svg'));
console.log(`vendor: wrote ${relative(webRoot, out)}/dsfr.css (${css.length} bytes) + ${assets.size} assets`);

// The partners' API reference page (api.html) renders /openapi.json with Swagger UI: its bundle and
// stylesheet, without source maps, and its licence.
const swaggerDist = dirname(require.resolve('swagger-ui-dist/package.json'));
const swaggerOut = join(webRoot, 'vendor', 'swagger-ui');
rmSync(swaggerOut, { recursive: true, force: true });
mkdirSync(swaggerOut, { recursive: true });
for (const name of ['swagger-ui-bundle.js', 'swagger-ui.css']) {
  const text = readFileSync(join(swaggerDist, name), 'utf8').replace(/\n?\/[/*]# sourceMappingURL=\S+(\s*\*\/)?\s*$/, '\n');
  writeFileSync(join(swaggerOut, name), text);
}
for (const name of ['LICENSE', 'NOTICE']) copyFileSync(join(swaggerDist, name), join(swaggerOut, name));
console.log(`vendor: wrote ${relative(webRoot, swaggerOut)}/ (swagger-ui-dist ${require('swagger-ui-dist/package.json').version})`);
