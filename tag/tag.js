// clickback tracking tag (see doc.go). The server replaces the configuration token at the
// end with the property's {"u": ingest URL, "w": attribution window in days,
// "r": [[domain, param], …]}. Everything runs inside try/catch: the tag never throws into
// the host page.
(function (w, C) {
  var d = w.document, nav = w.navigator, loc = w.location,
    ABC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_',
    KEYS = 'utm_source utm_medium utm_campaign utm_term utm_content gclid gbraid wbraid fbclid ttclid msclkid li_fat_id twclid epik ScCid'.split(' '),
    H = '(?:-|%(?:25)*2d)', PH = new RegExp(H + H + 'click' + H + 'id' + H + H, 'gi'),
    NAME = /^[A-Za-z0-9][\w .:-]{0,63}$/, SAFE = /^[\w.~-]{1,128}$/,
    queue = [], timer = 0, reported = 0, root, id;

  function cut(s, n) { return s == null ? '' : String(s).replace(/\0/g, '').slice(0, n) }

  // oops reports the first error the tag hits, once, and swallows every error.
  function oops(e) {
    try {
      if (!reported) {
        reported = 1;
        queue.push({ t: 'er', c: id, u: cut(loc.href, 2048), m: cut(e && e.stack ? e + '\n' + e.stack : e, 512) });
        flush();
      }
    } catch (x) {}
  }
  function guard(f) { return function () { try { return f.apply(this, arguments) } catch (e) { oops(e) } } }

  function newId() {
    for (var b = w.crypto.getRandomValues(new Uint8Array(22)), s = 'cb_', i = 0; i < 22; i++) s += ABC.charAt(b[i] & 63);
    return s;
  }
  function hash(s) {
    for (var h = 2166136261, i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
    return h.toString(36);
  }

  function cookie(n) {
    var m = d.cookie.match(new RegExp('(?:^|; *)' + n + '=([^;]*)'));
    return m ? m[1] : '';
  }
  // setCookie writes a first-party cookie on the site's registrable domain (the shortest
  // suffix of the host name the browser accepts), so that every subdomain shares it.
  function setCookie(n, v, sec) {
    var p, i, t;
    if (root == null) {
      root = '';
      p = loc.hostname.split('.');
      t = newId();
      for (i = p.length - 2; i >= 0 && !root; i--) {
        d.cookie = '_cbt=' + t + ';path=/;domain=' + p.slice(i).join('.');
        if (cookie('_cbt') == t) {
          root = p.slice(i).join('.');
          d.cookie = '_cbt=;path=/;max-age=0;domain=' + root;
        }
      }
    }
    d.cookie = n + '=' + v + ';path=/;max-age=' + sec + ';samesite=lax' +
      (root ? ';domain=' + root : '') + (loc.protocol == 'https:' ? ';secure' : '');
  }
  function stored() { try { return JSON.parse(w.localStorage.getItem('_cbid')) || {} } catch (e) { return {} } }

  // push queues an event of the visit; without a Click ID (start failed) there is none.
  function push(e) {
    if (!id) return;
    e.c = id;
    e.ts = Date.now();
    e.u = cut(loc.href, 2048);
    for (var k in e) if (e[k] === '' || e[k] == null || e[k] === false) delete e[k];
    queue.push(e);
    if (!timer) timer = setTimeout(guard(flush), 250);
  }
  // flush sends the queue in batches of at most 50 events and 60000 bytes.
  function flush() {
    clearTimeout(timer);
    timer = 0;
    for (var b = [], size = 0, e, n; (e = queue.shift());) {
      n = new TextEncoder().encode(JSON.stringify(e)).length + 1;
      if (b.length == 50 || size + n > 6e4) { send(b); b = []; size = 0 }
      if (n < 6e4) { b.push(e); size += n }
    }
    if (b.length) send(b);
  }
  // send posts one batch as text/plain (no CORS preflight), without delaying navigation.
  function send(b) {
    var body = JSON.stringify({ v: 1, events: b });
    if (!(nav.sendBeacon && nav.sendBeacon(C.u, body))) {
      w.fetch(C.u, { method: 'POST', body: body, keepalive: true, credentials: 'omit' })['catch'](function () {});
    }
  }

  function dec(s) { try { return decodeURIComponent(s.replace(/\+/g, ' ')) } catch (e) { return s } }
  // addParam gives the query parameter p the Click ID, unless it already has a value; the
  // rest of the URL is kept byte for byte.
  function addParam(h, p) {
    var f = h.indexOf('#'), frag = f < 0 ? '' : h.slice(f), b = f < 0 ? h : h.slice(0, f), q = b.indexOf('?'),
      parts = q < 0 || q == b.length - 1 ? [] : b.slice(q + 1).split('&'), i, kv, set;
    for (i = 0; i < parts.length; i++) {
      kv = parts[i].split('=');
      if (dec(kv[0]) == p) {
        if (kv[1]) return h;
        parts[i] = kv[0] + '=' + id;
        set = 1;
      }
    }
    if (!set) parts.push(encodeURIComponent(p) + '=' + id);
    return (q < 0 ? b : b.slice(0, q)) + '?' + parts.join('&') + frag;
  }
  // autoTag puts the Click ID into a link or form field: in place of the placeholder, or,
  // in a link without one to a listed domain (or one of its subdomains), under the rule's
  // parameter.
  function autoTag(el) {
    var n = el.nodeName, h, r, u, i, p;
    if (n == 'A' || n == 'AREA') {
      h = el.getAttribute('href');
      if (!h) return;
      r = h.replace(PH, id);
      try { u = r == h && C.r.length && new URL(r, d.baseURI).hostname.toLowerCase() } catch (e) {}
      for (i = 0; u && i < C.r.length; i++) {
        p = C.r[i];
        if (u == p[0] || u.slice(-p[0].length - 1) == '.' + p[0]) { r = addParam(r, p[1]); break }
      }
      if (r != h) el.setAttribute('href', r);
    } else if (n == 'INPUT') {
      h = el.getAttribute('value');
      if (h && (r = h.replace(PH, id)) != h) el.setAttribute('value', r);
      h = el.value;
      if (h && (r = h.replace(PH, id)) != h) el.value = r;
    }
  }
  function scan(n) {
    if (n.nodeType != 1) return;
    autoTag(n);
    for (var l = n.querySelectorAll('a[href],area[href],input'), i = 0; i < l.length; i++) autoTag(l[i]);
  }
  // A followed link that carries the Click ID is an OutboundClick, sent at once by beacon.
  function onClick(ev) {
    var a = ev.target, h;
    a = ev.button < 2 && a && a.closest && a.closest('a,area');
    if (a && (h = String(a.href)).indexOf(id) >= 0) {
      push({ t: 'oc', l: cut(h, 2048), lt: cut((a.textContent || a.alt || '').replace(/\s+/g, ' ').replace(/^ | $/g, ''), 128) });
      flush();
    }
  }

  function track(name, o) {
    var e = { t: 'tr', n: name }, p = {}, n = 0, k, v, t;
    if (typeof name != 'string' || !NAME.test(name) || name == 'PageView' || name == 'OutboundClick') return;
    o = o || {};
    for (k in o) {
      if (!Object.prototype.hasOwnProperty.call(o, k)) continue;
      v = o[k];
      t = typeof v;
      if (k == 'value') {
        if (t == 'number' ? v >= 0 && v < 1e12 : t == 'string' && /^\d{1,12}(\.\d+)?$/.test(v = v.trim())) e.val = v;
      } else if (k == 'currency') {
        if (t == 'string' && /^[a-z]{3}$/i.test(v)) e.cur = v.toUpperCase();
      } else if (n < 32 && NAME.test(k) && (t == 'string' || t == 'boolean' || t == 'number' && isFinite(v))) {
        p[k] = t == 'string' ? cut(v, 512) : v;
        n++;
      }
    }
    if (n) e.p = p;
    push(e);
  }
  // identify links the visit to the tenant's user id and to the SHA-256 of the normalised
  // email. The plain email never leaves the browser: without crypto.subtle (pages served
  // over plain http) it is dropped.
  function identify(o) {
    var e = { t: 'id' }, x = (o = o || {}).externalId, m = o.email, s = w.crypto.subtle, done = guard(function () { if (e.xid || e.em) push(e) });
    if (typeof x == 'string' || typeof x == 'number') e.xid = cut(x, 512);
    if (typeof m == 'string' && /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(m = m.trim().toLowerCase()) && s) {
      s.digest('SHA-256', new TextEncoder().encode(m)).then(function (h) {
        e.em = Array.prototype.map.call(new Uint8Array(h), function (b) { return (b < 16 ? '0' : '') + b.toString(16) }).join('');
        done();
      }, done);
    } else done();
  }
  function api(cmd, a, b) {
    try {
      if (cmd == 'clickId') {
        if (typeof a == 'function') a(id);
        return id;
      }
      if (cmd == 'track') track(a, b);
      if (cmd == 'identify') identify(a);
    } catch (e) { oops(e) }
  }

  // start gives the visit its Click ID (a new one for a new ad click), creates _fbp and _fbc
  // the way Meta's pixel does, and records the PageView.
  function start() {
    var now = Date.now(), P = new URLSearchParams(loc.search), e = { t: 'pv', r: cut(d.referrer, 2048), ti: cut(d.title, 512) },
      a = '', s, st = stored(), sig, exp, t, fbclid = P.get('fbclid'), fbc = cookie('_fbc'), fbp = cookie('_fbp'), sc = w.screen, lg = nav.language;
    KEYS.forEach(function (k) {
      var v = P.get(k);
      if (v) { e[k] = cut(v, 512); a += k + '=' + v + '&' }
    });
    sig = a && hash(a);
    id = cookie('_cbid');
    s = cookie('_cbs') || st.s;
    exp = st.i == id && st.e;
    if (!SAFE.test(id) && st.e > now && SAFE.test(st.i)) { id = st.i; s = st.s; exp = st.e }
    if (!SAFE.test(id) || sig && sig != s) { id = newId(); s = sig; exp = 0 }
    if (!(exp > now)) exp = now + C.w * 864e5;
    t = Math.ceil((exp - now) / 1e3);
    setCookie('_cbid', id, t);
    if (s) setCookie('_cbs', s, t);
    try { w.localStorage.setItem('_cbid', JSON.stringify({ i: id, s: s, e: exp })) } catch (x) {}
    if (fbclid && /^[\w-]{1,480}$/.test(fbclid) && fbc.split('.')[3] != fbclid) setCookie('_fbc', fbc = 'fb.1.' + now + '.' + fbclid, 7776e3);
    if (!fbp) setCookie('_fbp', fbp = 'fb.1.' + now + '.' + (1e9 + Math.floor(Math.random() * 9e9)), 7776e3);
    e.fbc = cut(fbc, 1024);
    e.fbp = cut(fbp, 1024);
    e.ttp = cut(cookie('_ttp'), 1024);
    if (sc) e.sc = sc.width + 'x' + sc.height;
    if (/^[A-Za-z0-9-]{1,35}$/.test(lg)) e.lg = lg;
    push(e);
  }

  try {
    var old = w.clickback, q = old && old.q || [], i;
    if (old && old.cb) return;
    api.cb = 1;
    w.clickback = api;
    start();
    scan(d.documentElement);
    if (w.MutationObserver) {
      new MutationObserver(guard(function (ms) {
        for (var i = 0, j, m; i < ms.length; i++) {
          m = ms[i];
          if (m.type == 'attributes') autoTag(m.target);
          else for (j = 0; j < m.addedNodes.length; j++) scan(m.addedNodes[j]);
        }
      })).observe(d.documentElement, { childList: true, subtree: true, attributes: true, attributeFilter: ['href', 'value'] });
    }
    d.addEventListener('click', guard(onClick), true);
    d.addEventListener('auxclick', guard(onClick), true);
    w.addEventListener('pagehide', guard(flush));
    d.addEventListener('visibilitychange', guard(function () { if (d.visibilityState == 'hidden') flush() }));
    for (i = 0; i < q.length; i++) api.apply(w, q[i]);
  } catch (e) { oops(e) }
})(window, __CLICKBACK_CONFIG__);
