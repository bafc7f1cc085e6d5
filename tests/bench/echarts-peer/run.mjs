// Drives scene.html in headless Chromium (playwright-core, Debian's /usr/bin/chromium) for
// dieuhanh-wall-bench: for each scene size of the model the bench exported, a page of exactly that
// size at device scale 1, then
//   frames:  N full repaints, each after one changed figure, timed inside the page from the change
//            to the second animation frame after it (script, layout, paint, raster, composite);
//   updates: N values sent by this driver, timed inside the page from receipt to the next frame;
//   idle:    two animation frames with nothing changed (the browser's floor).
// Afterwards the canvas is checked: one that lost its content voids the times (tried 3 times).
// Chromium renders on SwiftShader (software, like lavapipe for the wall) with vsync and the frame
// rate limit off, so animation frames come as fast as the work allows instead of every 16.7 ms.
// With --rounds N each size is measured N times, each time in a fresh page, and the samples of
// all rounds pooled: on SwiftShader one page's median frame at 7680×3240 was seen anywhere from
// 59 to 212 ms between runs of the same build.
// Usage: node run.mjs --model M.json --out R.json [--frames 60] [--updates 20] [--warmup 8]
//                     [--rounds 1] [--chromium /usr/bin/chromium] [--png DIR]
// Run it from the folder where `npm install` put echarts and playwright-core (scene.html loads
// node_modules/echarts from next to itself).

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const o = { frames: 60, updates: 20, warmup: 8, rounds: 1, chromium: '/usr/bin/chromium', png: null };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in o) && !['model', 'out'].includes(key)) throw new Error(`unknown option ${argv[i]}`);
    o[key] = ['frames', 'updates', 'warmup', 'rounds'].includes(key) ? Number(argv[i + 1]) : argv[i + 1];
  }
  if (!o.model || !o.out) throw new Error('usage: node run.mjs --model M.json --out R.json [options]');
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const model = JSON.parse(readFileSync(opts.model, 'utf8'));
const browser = await chromium.launch({
  executablePath: opts.chromium,
  headless: true,
  args: [
    '--headless=new',
    '--no-sandbox',
    // No GPU in the container: Chromium's software GL, as the wall gets Mesa's lavapipe.
    '--use-angle=swiftshader',
    '--enable-unsafe-swiftshader',
    '--disable-gpu-vsync',
    '--disable-frame-rate-limit',
    '--disable-dev-shm-usage',
    '--force-device-scale-factor=1',
  ],
});
const results = { browser: browser.version(), gl: '', scenes: [] };
const mean = (a) => (a.reduce((s, v) => s + v, 0) / Math.max(1, a.length)).toFixed(1);

// One scene in a fresh page: its figures, or null when the canvas lost its content meanwhile
// (seen at 7680×3240 on SwiftShader under memory pressure: every later draw is a no-op, so the
// times measure nothing).
async function measure(scene) {
  const [width, height] = scene.size;
  const context = await browser.newContext({ viewport: { width, height }, deviceScaleFactor: 1 });
  try {
    const page = await context.newPage();
    page.on('pageerror', (e) => { console.error(`page error: ${e.message}`); process.exitCode = 1; });
    await page.goto(pathToFileURL(path.join(here, 'scene.html')).href);
    results.gl = await page.evaluate((m) => window.bench.init(m), scene);
    const { script, frames } = await page.evaluate(
      ([n, w]) => window.bench.frames(n, w), [opts.frames, opts.warmup]);
    const updates = [];
    const base = scene.panels[scene.update.kpi]?.number ?? 0;
    for (let k = 0; k < opts.warmup + opts.updates; k++) {
      // Spaced like the wall's uploads, so each update lands on an idle page.
      await new Promise((r) => setTimeout(r, 100));
      const ms = await page.evaluate((v) => window.bench.update(v), base + 10 * (k + 1));
      if (k >= opts.warmup) updates.push(ms);
    }
    const idle = await page.evaluate((n) => window.bench.idle(n), Math.max(10, opts.frames / 2));
    const check = await page.evaluate(() => window.bench.check());
    if (!check.ok) {
      console.error(`page ${width}×${height}: the canvas no longer holds the scene `
        + `(lost contexts ${check.lost}, pixel ${check.px}): times void`);
      return null;
    }
    console.error(`page ${width}×${height}: frame ${mean(frames)} ms (script ${mean(script)}), `
      + `update ${mean(updates)} ms, idle ${mean(idle)} ms`);
    if (opts.png) {
      // The chart's own canvas (a page screenshot of 7680×3240 outlasts Playwright's timeout).
      const url = await page.evaluate(() => window.bench.png());
      const file = path.join(opts.png, `echarts-${width}x${height}.png`);
      writeFileSync(file, Buffer.from(url.split(',')[1], 'base64'));
      console.error(`wrote ${file}`);
    }
    return { name: scene.name, size: scene.size, frames, script, updates, idle };
  } finally {
    await context.close();
  }
}

try {
  for (const scene of model.scenes) {
    let pooled = null;
    for (let round = 1; round <= Math.max(1, opts.rounds); round++) {
      let r = null;
      for (let attempt = 1; attempt <= 3 && !r; attempt++) r = await measure(scene);
      if (!r) throw new Error(`${scene.name}: the canvas lost its content in 3 attempts`);
      if (!pooled) {
        pooled = r;
      } else {
        for (const k of ['frames', 'script', 'updates', 'idle']) pooled[k].push(...r[k]);
      }
    }
    results.scenes.push(pooled);
  }
} finally {
  await browser.close();
}
writeFileSync(opts.out, JSON.stringify(results));
