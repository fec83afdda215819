'use strict';
// emit.js runs a rendered tag (the file given as argument, as Script serves it) in the fake
// browser with hostile page content and API calls, and prints each request body it sends,
// one per line. The Go test TestTagBatchesParse checks that ParseBatch accepts them all.

const fs = require('node:fs');
const { makePage, Site } = require('./browser.js');

async function main() {
  const script = fs.readFileSync(process.argv[2], 'utf8');
  const site = new Site();
  site.cookies.set('_ttp|', { name: '_ttp', value: 'a b;'.repeat(400), domain: '' });
  site.cookies.set('_fbp|', { name: '_fbp', value: 'fb.1.1600000000000.1234567890 \u0001', domain: '' });
  const long = 'x'.repeat(3000);
  const page = makePage({
    site,
    url: 'https://www.shop.example/landing?utm_source=' + long + '&utm_campaign=%F0%9F%98%80'.repeat(400) + '&gclid=' + long + '&fbclid=' + 'f'.repeat(600) + '&q=' + long,
    referrer: 'android-app://com.google.android.gm/' + long,
    title: 'Sale \u0000 ' + '\u{1F600}'.repeat(600),
    language: 'x'.repeat(50),
  });
  const link = page.document.body.appendChild(page.el('a', { href: 'https://network.example/o?sub1=--CLICK-ID--&pad=' + long }, ['\u0000 ' + 'text '.repeat(100)]));
  page.load(script);
  page.run(`
    var p = {}; for (var i = 0; i < 40; i++) p['k' + i] = i % 2 ? new Array(700).join('\\u0000é') : i;
    p.bad = {deep: [[[]]]}; p['bad key!'] = 1; p.inf = Infinity;
    clickback('track', 'Purchase', { value: 0.1 + 0.2, currency: 'eur', order: 'A-1' });
    clickback('track', 'Tiny', { value: 1e-7 });
    clickback('track', 'Huge', { value: 1e15 });
    clickback('track', 'Max', { value: '999999999999.9999999' });
    clickback('track', 'Props', p);
    clickback('track', 'Bad\\u0000name'); clickback('track', 'PageView'); clickback('track', null);
    clickback('identify', { externalId: new Array(700).join('\\u0000i'), email: 'Ann@Example.com' });
    clickback('identify', { externalId: 'only' });
    for (var j = 0; j < 60; j++) clickback('track', 'Many ' + j, { value: j });
  `);
  await page.until(() => page.events().some((e) => e.em));
  page.click(link);
  page.timers();
  page.hide();
  const broken = makePage({ crypto: { getRandomValues: () => { throw new Error('x'.repeat(2000)) } } }).load(script);
  broken.timers();
  for (const s of [...page.sent, ...broken.sent]) process.stdout.write(s.body + '\n');
}

// node --test runs every file under test/: without a script to run, there is nothing to do.
if (process.argv[2]) main().catch((e) => { console.error(e); process.exit(1); });
