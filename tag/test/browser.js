'use strict';
// A small fake browser for tag.js: just enough DOM, cookies, storage, timers and network,
// run in its own V8 context. Pages of one visit share a Site (cookies and localStorage).

const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const STUB = 'window.clickback=window.clickback||function(){(clickback.q=clickback.q||[]).push(arguments)};';
const PUBLIC_SUFFIXES = new Set(['com', 'org', 'net', 'test', 'example', 'uk', 'co.uk']);

// render returns tag.js with a configuration, as the Go side does.
function render(config) {
  const src = fs.readFileSync(path.join(__dirname, '..', 'tag.js'), 'utf8');
  return src.replace('__CLICKBACK_CONFIG__', JSON.stringify(Object.assign({ u: 'https://cb.example/t/key', w: 30, r: [] }, config)));
}

// Site holds what browsers keep per site between pages: cookies and localStorage.
class Site {
  constructor() {
    this.cookies = new Map();
    this.storage = new Map();
  }
  cookie(name) {
    for (const c of this.cookies.values()) if (c.name === name) return c;
    return undefined;
  }
}

class Text {
  constructor(text) {
    this.nodeType = 3;
    this.nodeName = '#text';
    this.textContent = text;
    this.parentNode = null;
  }
}

// parseSelector understands what tag.js asks: "a[href],area[href],input" and "a,area".
function parseSelector(sel) {
  return sel.split(',').map((s) => {
    const m = /^\s*([a-z]+)(?:\[([a-z]+)\])?\s*$/i.exec(s);
    if (!m) throw new Error('unsupported selector ' + s);
    return { tag: m[1].toUpperCase(), attr: m[2] };
  });
}

function makePage(opts) {
  const site = opts.site || new Site();
  const loc = new URL(opts.url || 'https://www.shop.example/landing');
  const sent = [];
  const timers = new Map();
  const observers = [];
  const listeners = { window: {}, document: {} };
  let timerSeq = 0;
  let pending = [];

  function notify(record) {
    for (const o of observers) {
      let n = record.target;
      while (n && n !== o.target) n = n.parentNode;
      if (!n) continue;
      if (record.type === 'childList' && !o.opts.childList) continue;
      if (record.type === 'attributes' && !(o.opts.attributes && (!o.opts.attributeFilter || o.opts.attributeFilter.includes(record.attributeName)))) continue;
      if (!o.records.length) pending.push(o);
      o.records.push(record);
    }
    if (pending.length) queueMicrotask(deliver);
  }
  function deliver() {
    const list = pending;
    pending = [];
    for (const o of list) {
      const records = o.records;
      o.records = [];
      if (records.length) o.cb(records, o);
    }
  }

  class Element {
    constructor(name, attrs, children) {
      this.nodeType = 1;
      this.nodeName = name.toUpperCase();
      this.attrs = new Map(Object.entries(attrs || {}));
      this.childNodes = [];
      this.parentNode = null;
      this.dirtyValue = undefined;
      for (const c of children || []) this.appendChild(typeof c === 'string' ? new Text(c) : c);
    }
    getAttribute(n) { return this.attrs.has(n) ? this.attrs.get(n) : null; }
    setAttribute(n, v) {
      this.attrs.set(n, String(v));
      notify({ type: 'attributes', target: this, attributeName: n });
    }
    appendChild(c) {
      c.parentNode = this;
      this.childNodes.push(c);
      notify({ type: 'childList', target: this, addedNodes: [c] });
      return c;
    }
    get textContent() { return this.childNodes.map((c) => c.textContent).join(''); }
    get alt() { return this.getAttribute('alt') || ''; }
    get href() {
      const h = this.getAttribute('href');
      if (h === null) return '';
      try { return new URL(h, loc.href).href; } catch (e) { return h; }
    }
    // value follows the attribute until set, except for hidden inputs, whose value is the
    // attribute.
    get value() { return this.dirtyValue !== undefined ? this.dirtyValue : this.getAttribute('value') || ''; }
    set value(v) {
      if (this.getAttribute('type') === 'hidden') this.setAttribute('value', v);
      else this.dirtyValue = String(v);
    }
    matches(sel) {
      return parseSelector(sel).some((s) => s.tag === this.nodeName && (!s.attr || this.attrs.has(s.attr)));
    }
    closest(sel) {
      for (let n = this; n && n.nodeType === 1; n = n.parentNode) if (n.matches(sel)) return n;
      return null;
    }
    querySelectorAll(sel) {
      const out = [];
      const walk = (n) => {
        for (const c of n.childNodes) {
          if (c.nodeType !== 1) continue;
          if (c.matches(sel)) out.push(c);
          walk(c);
        }
      };
      walk(this);
      return out;
    }
  }

  const html = new Element('html');
  const body = html.appendChild(new Element('body'));

  function addListener(where) {
    return (type, fn) => { (listeners[where][type] = listeners[where][type] || []).push(fn); };
  }
  function setCookie(str) {
    const [pair, ...attrs] = str.split(';');
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const c = { name, value, domain: '', maxAge: undefined, sameSite: undefined, secure: false, path: undefined };
    for (const a of attrs) {
      const [k, v = ''] = a.split('=');
      const key = k.trim().toLowerCase();
      if (key === 'domain') c.domain = v.trim().replace(/^\./, '').toLowerCase();
      else if (key === 'max-age') c.maxAge = Number(v);
      else if (key === 'samesite') c.sameSite = v.trim().toLowerCase();
      else if (key === 'secure') c.secure = true;
      else if (key === 'path') c.path = v.trim();
    }
    if (c.domain && (PUBLIC_SUFFIXES.has(c.domain) || (loc.hostname !== c.domain && !loc.hostname.endsWith('.' + c.domain)))) return;
    const key = name + '|' + c.domain;
    if (c.maxAge !== undefined && c.maxAge <= 0) site.cookies.delete(key);
    else site.cookies.set(key, c);
  }

  const document = {
    documentElement: html,
    body,
    title: opts.title === undefined ? 'Landing' : opts.title,
    referrer: opts.referrer || '',
    baseURI: loc.href,
    visibilityState: 'visible',
    get cookie() {
      return [...site.cookies.values()]
        .filter((c) => !c.domain || loc.hostname === c.domain || loc.hostname.endsWith('.' + c.domain))
        .map((c) => c.name + '=' + c.value).join('; ');
    },
    set cookie(s) { setCookie(s); },
    addEventListener: addListener('document'),
    createElement: (name) => new Element(name),
  };

  const navigator = {
    language: opts.language === undefined ? 'en-GB' : opts.language,
    userAgent: 'FakeBrowser/1.0',
  };
  if (opts.beacon !== false) {
    navigator.sendBeacon = (url, data) => {
      sent.push({ via: 'beacon', url, body: String(data) });
      return opts.beacon !== 'full';
    };
  }

  const win = {
    document,
    navigator,
    location: { href: loc.href, search: loc.search, hostname: loc.hostname, protocol: loc.protocol },
    screen: { width: 1440, height: 900 },
    crypto: opts.crypto === undefined ? globalThis.crypto : opts.crypto,
    localStorage: opts.noStorage ? undefined : {
      getItem: (k) => (site.storage.has(k) ? site.storage.get(k) : null),
      setItem: (k, v) => { site.storage.set(k, String(v)); },
    },
    URL,
    URLSearchParams,
    TextEncoder,
    MutationObserver: class {
      constructor(cb) { this.cb = cb; this.records = []; }
      observe(target, o) { this.target = target; this.opts = o; observers.push(this); }
    },
    setTimeout: (fn, ms) => { timers.set(++timerSeq, fn); return timerSeq; },
    clearTimeout: (id) => { timers.delete(id); },
    fetch: (url, init) => {
      sent.push({ via: 'fetch', url, body: init.body, init });
      return Promise.resolve({ ok: true });
    },
    addEventListener: addListener('window'),
    console,
  };
  win.window = win;
  const ctx = vm.createContext(win);

  const page = {
    window: win,
    document,
    site,
    sent,
    el: (name, attrs, children) => new Element(name, attrs, children),
    run: (code) => vm.runInContext(code, ctx),
    // load runs the snippet's queue stub (when asked), then the tag.
    load(script, { stub = true } = {}) {
      if (stub) vm.runInContext(STUB, ctx);
      vm.runInContext(script, ctx, { filename: 'tag.js' });
      return page;
    },
    // tick lets MutationObserver records and promises settle.
    tick: () => new Promise((resolve) => setImmediate(resolve)),
    // until runs the pending timers until ok() holds, for work that ends in a promise
    // (crypto.subtle); it fails after two seconds.
    async until(ok) {
      for (const deadline = Date.now() + 2000; !ok(); await new Promise((r) => setTimeout(r, 2))) {
        if (Date.now() > deadline) throw new Error('timed out waiting for ' + ok);
        page.timers();
      }
    },
    // timers runs the pending timers, as if 250 ms had passed.
    timers() {
      const fns = [...timers.values()];
      timers.clear();
      fns.forEach((fn) => fn());
    },
    fire(where, type, ev) {
      for (const fn of listeners[where][type] || []) fn(Object.assign({ type }, ev));
    },
    click(target, button = 0) { page.fire('document', button ? 'auxclick' : 'click', { target, button }); },
    hide() {
      document.visibilityState = 'hidden';
      page.fire('document', 'visibilitychange', {});
    },
    // events returns every event sent so far, in order.
    events: () => sent.flatMap((s) => JSON.parse(s.body).events),
    batches: () => sent.map((s) => JSON.parse(s.body)),
  };
  return page;
}

module.exports = { makePage, render, Site, STUB };
