// A reporter and an approver at a real browser (Debian's Chromium, headless): the pages are
// opened, filled in and submitted as a person does, and what the browser then shows is printed
// as JSON for tests/tests/desk_browser.rs to check.
//   node desk.mjs --url http://127.0.0.1:PORT --chromium /usr/bin/chromium \
//        --bad FILE.csv --good FILE.csv --token REPORTER --approver-token APPROVER \
//        --presenter-token PRESENTER --unit 04
import { chromium } from 'playwright-core';

const opts = {};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) opts[argv[i].replace(/^--/, '')] = argv[i + 1];
for (const k of ['url', 'chromium', 'bad', 'good', 'token', 'approver-token', 'presenter-token', 'unit']) {
  if (!opts[k]) throw new Error(`missing --${k}`);
}

const browser = await chromium.launch({
  executablePath: opts.chromium,
  headless: true,
  args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const out = {};
try {
  const context = await browser.newContext({ locale: 'vi-VN' });
  const page = await context.newPage();
  const text = async (sel) => ((await page.locator(sel).first().textContent()) || '').trim();

  // The reporter: a file with mistakes, then a good one.
  await page.goto(`${opts.url}/gui-bao-cao`);
  await page.fill('#token', opts.token);
  await page.fill('#submitter', 'Lê Thị Hoa');
  await page.setInputFiles('#file', opts.bad);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  await page.waitForSelector('div.box');
  out.bad = {
    box: await text('div.box'),
    rows: await page.$$eval('table tbody tr', (trs) =>
      trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent.trim()))),
    submitter: await page.inputValue('#submitter'),
  };
  // The token field is left empty: the browser keeps the token it gave.
  await page.setInputFiles('#file', opts.good);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  await page.waitForSelector('div.box');
  out.good = { box: await text('div.box'), using: await text('form p.hint') };

  // The approver, in a browser of their own: looks, then approves.
  const approver = await browser.newContext({ locale: 'vi-VN' });
  const ap = await approver.newPage();
  await ap.goto(`${opts.url}/duyet-bao-cao`);
  await ap.fill('#token', opts['approver-token']);
  await ap.selectOption('#regime', 'BC-HT');
  await ap.fill('#unit', opts.unit);
  await ap.fill('#period', 'Tháng 10/2026');
  await ap.fill('#note', 'Đã đối chiếu');
  // Enter in a field presses the first button: it must look, not approve.
  await Promise.all([ap.waitForNavigation(), ap.press('#period', 'Enter')]);
  await ap.waitForSelector('h2');
  out.look = {
    title: ((await ap.locator('main h2').first().textContent()) || '').trim(),
    state: ((await ap.locator('main p').first().textContent()) || '').trim(),
    boxes: await ap.locator('div.box').count(),
  };
  await Promise.all([ap.waitForNavigation(), ap.click('button[value=duyet]')]);
  await ap.waitForSelector('div.box');
  out.approve = {
    box: ((await ap.locator('div.box').first().textContent()) || '').trim(),
    state: ((await ap.locator('main p').first().textContent()) || '').trim(),
  };
  // A commune's link opens its report without the token typed again.
  const link = ap.locator('main table tbody tr td a').first();
  out.commune = (await link.textContent()).trim();
  await Promise.all([ap.waitForNavigation(), link.click()]);
  out.followed = {
    title: ((await ap.locator('main h2').first().textContent()) || '').trim(),
    using: ((await ap.locator('form p.hint').first().textContent()) || '').trim(),
  };

  // The presenter, in a third browser: Hồ Chí Minh picked by name for the room's walls.
  const presenter = await browser.newContext({ locale: 'vi-VN' });
  const pp = await presenter.newPage();
  await pp.goto(`${opts.url}/dieu-khien`);
  await pp.fill('#token', opts['presenter-token']);
  await pp.fill('#room', 'phong-hop');
  await pp.selectOption('#focus', { label: 'Thành phố Hồ Chí Minh' });
  await pp.selectOption('#agency', { label: 'Bộ Tư pháp' });
  await Promise.all([pp.waitForNavigation(), pp.click('button[value=apply]')]);
  await pp.waitForSelector('div.box');
  out.present = ((await pp.locator('div.box').first().textContent()) || '').trim();
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out));
