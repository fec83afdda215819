'use strict';
// Behaviour of tag.js in a fake browser (browser.js). Run: node --test tag/test

const test = require('node:test');
const assert = require('node:assert/strict');
const { createHash } = require('node:crypto');
const { makePage, render, Site } = require('./browser.js');

const TAG = render({});
const ID = /^cb_[A-Za-z0-9_-]{22}$/;

// open loads the tag on a page and returns it.
function open(opts = {}, config) {
  return makePage(opts).load(config ? render(config) : TAG);
}

// clickId asks the loaded tag for the Click ID, as a page would.
function clickId(page) { return page.run("clickback('clickId')"); }

test('a PageView carries the landing context', () => {
  const url = 'https://www.shop.example/landing?utm_source=google&utm_medium=cpc&utm_campaign=spring&utm_term=shoes&utm_content=ad1' +
    '&gclid=G1&gbraid=GB&wbraid=WB&fbclid=FB_1-x&ttclid=TT&msclkid=MS&li_fat_id=LI&twclid=TW&epik=EP&ScCid=SC&other=1';
  const page = open({ url, referrer: 'https://www.google.com/', title: 'Spring sale' });
  page.site.cookies.set('_ttp|', { name: '_ttp', value: 'ttp-cookie', domain: '' });
  assert.equal(page.sent.length, 0, 'sent before the batching delay');
  page.timers();
  assert.equal(page.sent.length, 1);
  const { url: to, via, body } = page.sent[0];
  assert.equal(to, 'https://cb.example/t/key');
  assert.equal(via, 'beacon');
  const batch = JSON.parse(body);
  assert.equal(batch.v, 1);
  assert.equal(batch.events.length, 1);
  const e = batch.events[0];
  assert.match(e.c, ID);
  assert.ok(Math.abs(e.ts - Date.now()) < 5000);
  assert.deepEqual(
    { ...e, c: undefined, ts: undefined, fbp: undefined, fbc: undefined },
    {
      t: 'pv', c: undefined, ts: undefined, fbp: undefined, fbc: undefined, u: url, r: 'https://www.google.com/', ti: 'Spring sale',
      utm_source: 'google', utm_medium: 'cpc', utm_campaign: 'spring', utm_term: 'shoes', utm_content: 'ad1',
      gclid: 'G1', gbraid: 'GB', wbraid: 'WB', fbclid: 'FB_1-x', ttclid: 'TT', msclkid: 'MS', li_fat_id: 'LI', twclid: 'TW', epik: 'EP', ScCid: 'SC',
      sc: '1440x900', lg: 'en-GB',
    });
  assert.match(e.fbc, /^fb\.1\.\d{13}\.FB_1-x$/);
  assert.match(e.fbp, /^fb\.1\.\d{13}\.\d{10}$/);
});

test('empty and odd fields are left out', () => {
  const page = open({ url: 'https://shop.example/', title: '', language: 'not a language tag!' });
  page.timers();
  const [e] = page.events();
  assert.deepEqual(Object.keys(e).sort(), ['c', 'fbp', 'sc', 't', 'ts', 'u']);
});

test('the Click ID cookie', () => {
  const page = open({ url: 'https://www.shop.example/?gclid=abc' });
  const id = clickId(page);
  assert.match(id, ID);
  const c = page.site.cookie('_cbid');
  assert.equal(c.value, id);
  assert.equal(c.domain, 'shop.example', 'set on the registrable domain');
  assert.equal(c.path, '/');
  assert.equal(c.sameSite, 'lax');
  assert.equal(c.secure, true);
  assert.ok(c.maxAge > 30 * 86400 - 5 && c.maxAge <= 30 * 86400);
  assert.equal(page.site.cookie('_cbt'), undefined, 'the domain probe is removed');
  assert.equal(JSON.parse(page.site.storage.get('_cbid')).i, id);
});

test('the attribution window sets the cookie lifetime', () => {
  const page = open({ url: 'http://localhost:3000/' }, { w: 7 });
  const c = page.site.cookie('_cbid');
  assert.equal(c.domain, '', 'host-only on a single-label host');
  assert.equal(c.secure, false, 'not secure on http');
  assert.ok(c.maxAge > 7 * 86400 - 5 && c.maxAge <= 7 * 86400);
});

test('Click IDs are unique', () => {
  const ids = new Set();
  for (let i = 0; i < 200; i++) ids.add(clickId(open()));
  assert.equal(ids.size, 200);
});

test('later pages of a visit reuse the Click ID; a new ad click starts a new one', () => {
  const cases = [
    { name: 'page without parameters', next: 'https://www.shop.example/product', same: true },
    { name: 'subdomain of the site', next: 'https://checkout.shop.example/pay', same: true },
    { name: 'same ad click reloaded', next: 'https://www.shop.example/landing?utm_source=google&gclid=G1', same: true },
    { name: 'same parameters, other order', next: 'https://www.shop.example/landing?gclid=G1&utm_source=google', same: true },
    { name: 'new gclid', next: 'https://www.shop.example/landing?utm_source=google&gclid=G2', same: false },
    { name: 'new fbclid', next: 'https://www.shop.example/landing?fbclid=F', same: false },
    { name: 'new UTM set', next: 'https://www.shop.example/landing?utm_source=newsletter', same: false },
    { name: 'ScCid is case-sensitive', next: 'https://www.shop.example/landing?utm_source=google&gclid=G1&sccid=x', same: true },
  ];
  for (const c of cases) {
    const site = new Site();
    const first = clickId(open({ site, url: 'https://www.shop.example/landing?utm_source=google&gclid=G1' }));
    const next = clickId(open({ site, url: c.next }));
    assert.match(next, ID);
    assert.equal(next === first, c.same, c.name);
  }
});

test('the Click ID survives in localStorage and the cookie comes back', () => {
  const site = new Site();
  const first = clickId(open({ site, url: 'https://www.shop.example/?gclid=1' }));
  const exp = JSON.parse(site.storage.get('_cbid')).e;
  site.cookies.clear();
  const page = open({ site, url: 'https://www.shop.example/next' });
  assert.equal(clickId(page), first);
  assert.equal(site.cookie('_cbid').value, first);
  assert.equal(JSON.parse(site.storage.get('_cbid')).e, exp, 'a later page does not extend the window');
  site.cookies.clear();
  assert.equal(clickId(open({ site, url: 'https://www.shop.example/?gclid=1' })), first, 'nor does the same ad click');
});

test('an expired or malformed Click ID is replaced', () => {
  const site = new Site();
  site.storage.set('_cbid', JSON.stringify({ i: 'cb_old', e: Date.now() - 1 }));
  assert.notEqual(clickId(open({ site })), 'cb_old');
  const bad = new Site();
  bad.cookies.set('_cbid|', { name: '_cbid', value: 'x y<script>', domain: '' });
  assert.match(clickId(open({ site: bad })), ID);
  const foreign = new Site();
  foreign.cookies.set('_cbid|', { name: '_cbid', value: 'tenant.set-id_1', domain: '' });
  assert.equal(clickId(open({ site: foreign })), 'tenant.set-id_1', 'a well-formed foreign id is kept');
});

test('_fbc and _fbp are created like the Meta pixel does', () => {
  const cases = [
    { name: 'no fbclid, no cookies', url: '/', fbc: undefined },
    { name: 'fbclid creates _fbc', url: '/?fbclid=AbC-1_2', fbc: /^fb\.1\.\d{13}\.AbC-1_2$/ },
    { name: 'same fbclid keeps _fbc', url: '/?fbclid=AbC', cookies: { _fbc: 'fb.1.1600000000000.AbC' }, fbc: /^fb\.1\.1600000000000\.AbC$/ },
    { name: 'suffixed _fbc is kept', url: '/?fbclid=AbC', cookies: { _fbc: 'fb.1.1600000000000.AbC.Xy' }, fbc: /^fb\.1\.1600000000000\.AbC\.Xy$/ },
    { name: 'new fbclid replaces _fbc', url: '/?fbclid=New', cookies: { _fbc: 'fb.1.1600000000000.Old' }, fbc: /^fb\.1\.\d{13}\.New$/ },
    { name: 'unsafe fbclid creates nothing', url: '/?fbclid=a%3Bb', fbc: undefined },
    { name: 'existing _fbp is kept', url: '/', cookies: { _fbp: 'fb.1.1600000000000.1234567890' }, fbp: 'fb.1.1600000000000.1234567890' },
  ];
  for (const c of cases) {
    const site = new Site();
    for (const [n, v] of Object.entries(c.cookies || {})) site.cookies.set(n + '|', { name: n, value: v, domain: '' });
    const page = open({ site, url: 'https://www.shop.example' + c.url });
    page.timers();
    const [e] = page.events();
    if (c.fbc) {
      assert.match(e.fbc, c.fbc, c.name);
      assert.match(page.document.cookie, new RegExp('_fbc=' + e.fbc.replace(/\./g, '\\.')), c.name);
    } else {
      assert.equal(e.fbc, undefined, c.name);
    }
    const fbp = site.cookie('_fbp');
    assert.equal(e.fbp, fbp.value, c.name);
    if (c.fbp) assert.equal(fbp.value, c.fbp, c.name);
    else assert.match(fbp.value, /^fb\.1\.\d{13}\.[1-9]\d{9}$/, c.name);
    if (!c.cookies) assert.equal(fbp.maxAge, 90 * 86400, c.name);
  }
});

test('AutoTag replaces the placeholder in links, keeping the rest of the URL', () => {
  const page = makePage({});
  const cases = [
    ['https://network.example/offer?sub1=--CLICK-ID--', 'https://network.example/offer?sub1=$'],
    ['https://network.example/o?a=%20b+c&sub1=--CLICK-ID--&z=%C3%A9&e=#frag', 'https://network.example/o?a=%20b+c&sub1=$&z=%C3%A9&e=#frag'],
    ['https://network.example/o?s=--click-id--', 'https://network.example/o?s=$'],
    ['https://network.example/o?s=%2D%2DCLICK-ID%2D%2D', 'https://network.example/o?s=$'],
    ['https://network.example/o?s=%2d%2dCLICK%2dID%2d%2d', 'https://network.example/o?s=$'],
    ['https://network.example/o?s=%252D%252DCLICK-ID%252D%252D', 'https://network.example/o?s=$'],
    ['https://redirect.example/r?url=https%3A%2F%2Fnetwork.example%2Fo%3Fsub1%3D--CLICK-ID--%26x%3D1', 'https://redirect.example/r?url=https%3A%2F%2Fnetwork.example%2Fo%3Fsub1%3D$%26x%3D1'],
    ['https://network.example/--CLICK-ID--/o?a=--CLICK-ID--', 'https://network.example/$/o?a=$'],
    ['/go?sub=--CLICK-ID--', '/go?sub=$'],
    ['https://network.example/o?sub1=CLICK-ID', 'https://network.example/o?sub1=CLICK-ID'],
    ['https://network.example/o?sub1={clickid}&a=%zz', 'https://network.example/o?sub1={clickid}&a=%zz'],
    ['mailto:x@example.com?subject=--CLICK-ID--', 'mailto:x@example.com?subject=$'],
  ];
  const links = cases.map(([href]) => page.document.body.appendChild(page.el('a', { href })));
  const area = page.document.body.appendChild(page.el('area', { href: '?s=--CLICK-ID--' }));
  const noHref = page.document.body.appendChild(page.el('a', {}));
  page.load(TAG);
  const id = clickId(page);
  cases.forEach(([href, want], i) => assert.equal(links[i].getAttribute('href'), want.replace(/\$/g, id), href));
  assert.equal(area.getAttribute('href'), '?s=' + id);
  assert.equal(noHref.getAttribute('href'), null);
});

test('AutoTag rewrites links and fields added or changed later', async () => {
  const page = open();
  const id = clickId(page);
  const div = page.el('div', {}, [
    page.el('p', {}, [page.el('a', { href: 'https://n.example/?s=--CLICK-ID--' }, ['deep'])]),
    page.el('input', { type: 'hidden', name: 'sub', value: '--CLICK-ID--' }),
  ]);
  page.document.body.appendChild(div);
  const direct = page.document.body.appendChild(page.el('a', { href: 'https://n.example/?d=--CLICK-ID--' }));
  const later = page.document.body.appendChild(page.el('a', { href: 'https://n.example/' }));
  await page.tick();
  assert.equal(div.querySelectorAll('a')[0].getAttribute('href'), 'https://n.example/?s=' + id);
  assert.equal(div.querySelectorAll('input')[0].value, id);
  assert.equal(direct.getAttribute('href'), 'https://n.example/?d=' + id);
  later.setAttribute('href', 'https://n.example/?again=--CLICK-ID--');
  await page.tick();
  assert.equal(later.getAttribute('href'), 'https://n.example/?again=' + id);
  await page.tick();
  assert.equal(later.getAttribute('href'), 'https://n.example/?again=' + id, 'settles');
});

test('AutoTag fills form fields', () => {
  const page = makePage({});
  const hidden = page.document.body.appendChild(page.el('input', { type: 'hidden', value: 'https://n.example/?s=%2D%2DCLICK-ID%2D%2D' }));
  const text = page.document.body.appendChild(page.el('input', { type: 'text', value: '--CLICK-ID--' }));
  const other = page.document.body.appendChild(page.el('input', { type: 'text', value: 'keep me' }));
  const empty = page.document.body.appendChild(page.el('input', { type: 'text' }));
  page.load(TAG);
  const id = clickId(page);
  assert.equal(hidden.value, 'https://n.example/?s=' + id);
  assert.equal(hidden.getAttribute('value'), 'https://n.example/?s=' + id);
  assert.equal(text.value, id);
  assert.equal(other.value, 'keep me');
  assert.equal(empty.getAttribute('value'), null);
});

test('AutoTag rules add the Click ID to links of listed domains only', () => {
  const page = makePage({ url: 'https://www.shop.example/page' });
  const cases = [
    ['https://network.example/offer', 'https://network.example/offer?sub1=$'],
    ['https://Go.Network.Example/offer?a=1&b=%20#x', 'https://Go.Network.Example/offer?a=1&b=%20&sub1=$#x'],
    ['https://network.example/offer?', 'https://network.example/offer?sub1=$'],
    ['https://network.example/offer?sub1=', 'https://network.example/offer?sub1=$'],
    ['https://network.example/offer?sub1=mine', 'https://network.example/offer?sub1=mine'],
    ['https://network.example/offer?sub1=--CLICK-ID--&x=1', 'https://network.example/offer?sub1=$&x=1'],
    ['https://network.example/offer?s2=--CLICK-ID--', 'https://network.example/offer?s2=$'],
    ['https://network.example/offer?su%62%31=mine', 'https://network.example/offer?su%62%31=mine'],
    ['https://aff.other.example/x?y=1', 'https://aff.other.example/x?y=1&aff_sub=$'],
    ['https://evilnetwork.example/offer', 'https://evilnetwork.example/offer'],
    ['https://network.example.evil.test/offer', 'https://network.example.evil.test/offer'],
    ['https://shop.example/cart', 'https://shop.example/cart'],
    ['/relative', '/relative'],
    ['javascript:void(0)', 'javascript:void(0)'],
  ];
  const links = cases.map(([href]) => page.document.body.appendChild(page.el('a', { href })));
  page.load(render({ r: [['aff.other.example', 'aff_sub'], ['network.example', 'sub1']] }));
  const id = clickId(page);
  cases.forEach(([href, want], i) => assert.equal(links[i].getAttribute('href'), want.replace(/\$/g, id), href));
});

test('a rule for a subdomain wins when listed first', () => {
  const page = makePage({});
  const link = page.document.body.appendChild(page.el('a', { href: 'https://go.network.example/o' }));
  page.load(render({ r: [['go.network.example', 'aff'], ['network.example', 'sub1']] }));
  assert.equal(link.getAttribute('href'), 'https://go.network.example/o?aff=' + clickId(page));
});

test('following a tagged link records an OutboundClick at once', () => {
  const page = makePage({});
  const span = page.el('span', {}, ['Get   the\n offer ']);
  const tagged = page.document.body.appendChild(page.el('a', { href: 'https://n.example/?s=--CLICK-ID--' }, [span, ' now']));
  const long = page.document.body.appendChild(page.el('a', { href: 'https://n.example/?s=--CLICK-ID--' }, ['x'.repeat(300)]));
  const plain = page.document.body.appendChild(page.el('a', { href: 'https://n.example/plain' }, ['plain']));
  page.load(TAG);
  page.timers();
  page.sent.length = 0;

  const svg = page.el('a', { href: 'https://n.example/' });
  Object.defineProperty(svg, 'href', { value: { baseVal: 'https://n.example/', animVal: 'https://n.example/' } });
  page.click(plain);
  page.click(svg);
  page.click(tagged, 2);
  assert.equal(page.sent.length, 0, 'untagged links, SVG links and right clicks are not recorded');

  page.click(span);
  assert.equal(page.sent.length, 1, 'sent without waiting');
  assert.equal(page.sent[0].via, 'beacon');
  const [e] = page.events();
  assert.equal(e.t, 'oc');
  assert.equal(e.c, clickId(page));
  assert.equal(e.l, 'https://n.example/?s=' + e.c);
  assert.equal(e.lt, 'Get the offer now');
  assert.equal(e.u, 'https://www.shop.example/landing');

  page.click(long, 1);
  assert.equal(page.events()[1].lt, 'x'.repeat(128), 'middle clicks count; text is cut');
});

test('the API: track, identify and clickId, queued before load', async () => {
  const page = makePage({});
  page.run(`window.clickback = window.clickback || function () { (clickback.q = clickback.q || []).push(arguments) };
    clickback('track', 'Signup', { value: 12.5, currency: 'eur', plan: 'pro', seats: 3, trial: true, nested: { a: 1 }, fn: function () {}, nan: NaN, nul: null });
    clickback('clickId', function (id) { window.gotId = id });`);
  page.load(TAG, { stub: false });
  const id = clickId(page);
  assert.equal(page.window.gotId, id);
  page.run(`clickback('track', 'Purchase', { value: '99.90', currency: 'USD', order: 'A-1' });
    clickback('track', 'Zero', { value: 0 });
    clickback('track', 'Bad value', { value: -1, currency: 'euro' });
    clickback('track', 'PageView'); clickback('track', 'OutboundClick');
    clickback('track', ''); clickback('track', '_x'); clickback('track', 'a/b'); clickback('track', 'x'.repeat(65)); clickback('track', 42);
    clickback('nonsense', 1, 2);`);
  page.timers();
  const events = page.events();
  assert.deepEqual(events.map((e) => e.t + ':' + (e.n || '')), ['pv:', 'tr:Signup', 'tr:Purchase', 'tr:Zero', 'tr:Bad value']);
  const [, signup, purchase, zero, bad] = events;
  assert.deepEqual([signup.val, signup.cur, signup.p], [12.5, 'EUR', { plan: 'pro', seats: 3, trial: true }]);
  assert.deepEqual([purchase.val, purchase.cur, purchase.p], ['99.90', 'USD', { order: 'A-1' }]);
  assert.equal(zero.val, 0);
  assert.deepEqual([bad.val, bad.cur, bad.p], [undefined, undefined, undefined]);
  assert.equal(page.sent.length, 1, 'one batch');
});

test('track bounds its properties', () => {
  const page = open();
  const props = {};
  for (let i = 0; i < 40; i++) props['k' + i] = 'v'.repeat(600);
  page.window.props = props;
  page.run("clickback('track', 'Many', props)");
  page.timers();
  const p = page.events()[1].p;
  assert.equal(Object.keys(p).length, 32);
  assert.equal(p.k0.length, 512);
});

test('identify hashes the email in the browser', async () => {
  const page = open();
  page.run(`clickback('identify', { externalId: 'u-42', email: '  John_Smith@Gmail.com ' });
    clickback('identify', { externalId: 7 });
    clickback('identify', { email: 'not an email' });
    clickback('identify', {}); clickback('identify');`);
  const ids = () => page.events().filter((e) => e.t === 'id');
  await page.until(() => ids().length === 2);
  assert.deepEqual(ids().map((e) => [e.xid, e.em]), [
    ['7', undefined],
    ['u-42', '62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f'],
  ]);
  assert.equal(ids()[1].em, createHash('sha256').update('john_smith@gmail.com').digest('hex'));
  assert.ok(!page.sent.some((s) => /gmail|John/i.test(s.body)), 'the plain email never leaves');
});

test('without crypto.subtle the email is dropped, not sent in clear', async () => {
  const page = open({ crypto: { getRandomValues: (a) => globalThis.crypto.getRandomValues(a) } });
  page.run("clickback('identify', { externalId: 'u-1', email: 'a@b.example' }); clickback('identify', { email: 'a@b.example' })");
  await page.tick();
  page.timers();
  const ids = page.events().filter((e) => e.t === 'id');
  assert.deepEqual(ids.map((e) => [e.xid, e.em]), [['u-1', undefined]], 'without subtle nothing is asynchronous');
});

test('batches hold at most 50 events and 60000 bytes', () => {
  const page = open();
  page.run("for (var i = 0; i < 120; i++) clickback('track', 'E' + i)");
  page.timers();
  assert.deepEqual(page.batches().map((b) => b.events.length), [50, 50, 21]);
  assert.equal(page.events().length, 121);

  const big = open();
  big.run("for (var i = 0; i < 10; i++) { var p = {}; for (var j = 0; j < 32; j++) p['k' + j] = new Array(513).join('é'); clickback('track', 'Big', p) }");
  big.timers();
  assert.ok(big.sent.length > 1);
  for (const s of big.sent) assert.ok(Buffer.byteLength(s.body) <= 60000 + 20, 'batch of ' + Buffer.byteLength(s.body));
  assert.equal(big.events().length, 11);
});

test('hiding the page sends the queue; fetch keepalive when sendBeacon fails', () => {
  for (const beacon of [true, false, 'full']) {
    const page = open({ beacon });
    page.run("clickback('track', 'Late')");
    page.hide();
    const via = beacon === true ? 'beacon' : 'fetch';
    assert.deepEqual(page.sent.filter((s) => s.via === via).map((s) => JSON.parse(s.body).events.length), [2], String(beacon));
    if (via === 'fetch') {
      const { init } = page.sent.find((s) => s.via === 'fetch');
      assert.deepEqual([init.method, init.keepalive, init.credentials, typeof init.body], ['POST', true, 'omit', 'string']);
    }
  }
  const page = open();
  page.fire('window', 'pagehide', {});
  assert.equal(page.sent.length, 1);
});

test('loading the tag twice records one PageView', () => {
  const page = open();
  page.load(TAG);
  page.timers();
  assert.equal(page.events().length, 1);
});

test('the tag adds nothing to the page but window.clickback', () => {
  const page = makePage({});
  const before = new Set(Object.keys(page.window));
  page.load(TAG, { stub: false });
  assert.deepEqual(Object.keys(page.window).filter((k) => !before.has(k)), ['clickback']);
  assert.deepEqual(Object.keys(page.window.clickback), ['cb']);
});

test('errors never reach the page and are reported once', () => {
  const page = makePage({ crypto: { getRandomValues: () => { throw new Error('no randomness') } } });
  assert.doesNotThrow(() => page.load(TAG));
  assert.doesNotThrow(() => page.run("clickback('track', 'X'); clickback('identify', {externalId: 'a'}); clickback('clickId')"));
  page.timers();
  page.hide();
  const events = page.events();
  assert.equal(events.length, 1);
  assert.equal(events[0].t, 'er');
  assert.ok(!events[0].c, 'no Click ID yet');
  assert.match(events[0].m, /no randomness/);
  assert.ok(events[0].m.length <= 512);

  const broken = open();
  broken.run("clickback('clickId', function () { throw new Error('tenant bug') })");
  broken.run("clickback('clickId', function () { throw new Error('second') })");
  broken.timers();
  assert.deepEqual(broken.events().map((e) => e.t), ['pv', 'er']);
});

test('the tag works without localStorage', () => {
  const site = new Site();
  const first = clickId(open({ site, noStorage: true }));
  assert.match(first, ID);
  assert.equal(clickId(open({ site, noStorage: true, url: 'https://www.shop.example/next' })), first);
});
