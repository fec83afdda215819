package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/clickback/clickback/auth"
	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/ent/property"
	"github.com/clickback/clickback/ratelimit"
	"github.com/clickback/clickback/tag"
	"github.com/clickback/clickback/viewer"
	"github.com/clickback/clickback/visit"
)

// tagLimits are the ingest's rate limits, per process.
type tagLimits struct {
	// IPRate and IPBurst bound the batches of one client IP: a browser sends
	// a few per page, an office behind one NAT some more.
	IPRate  float64
	IPBurst int
	// PropertyRate and PropertyBurst bound one property's batches, so that
	// one tenant's flood cannot starve the others' writes.
	PropertyRate  float64
	PropertyBurst int
}

// TagLimits are the tag ingest's rate limits (Deps.Tag).
type TagLimits = tagLimits

var defaultTagLimits = tagLimits{IPRate: 50, IPBurst: 200, PropertyRate: 5000, PropertyBurst: 10000}

// Caching of the tag and of property lookups.
const (
	// propertyTTL is how long a property lookup (found or not) is reused: a
	// change to a property reaches its tag and its ingest within this time.
	propertyTTL = 30 * time.Second
	// maxCachedProperties bounds the cache; it is emptied when full, which
	// only costs lookups.
	maxCachedProperties = 100_000
	// tagMaxAge is the browsers' and CDNs' cache time of a tag.
	tagMaxAge = 5 * time.Minute
)

// tagEntry is what a property key resolves to.
type tagEntry struct {
	found      bool
	accountID  string
	propertyID string
	// script and gz are the rendered tag, plain and gzipped; etag names them.
	script, gz []byte
	etag       string
	expires    time.Time
}

// tagHandler serves GET /tag/{propertyKey}.js and POST /t/{propertyKey}.
type tagHandler struct {
	client    *ent.Client
	recorder  *visit.Recorder
	publicURL string
	logger    *slog.Logger
	byIP      *ratelimit.Limiter
	byProp    *ratelimit.Limiter

	mu    sync.Mutex
	cache map[string]*tagEntry
	// loading holds the lookups in flight, so that a burst of requests for a
	// key that is not cached (at start, or when it expires) costs one query.
	loading map[string]*tagLoad
}

// tagLoad is one lookup in flight; done is closed when e and err are set.
type tagLoad struct {
	done chan struct{}
	e    *tagEntry
	err  error
}

func newTagHandler(client *ent.Client, rec *visit.Recorder, publicURL string, logger *slog.Logger, l tagLimits) *tagHandler {
	return &tagHandler{
		client:    client,
		recorder:  rec,
		publicURL: strings.TrimRight(publicURL, "/"),
		logger:    logger,
		byIP:      ratelimit.New(l.IPRate, l.IPBurst, 100_000),
		byProp:    ratelimit.New(l.PropertyRate, l.PropertyBurst, 100_000),
		cache:     make(map[string]*tagEntry),
		loading:   make(map[string]*tagLoad),
	}
}

// validPropertyKey rejects keys that cannot exist before any lookup: keys
// are short and URL-safe.
func validPropertyKey(k string) bool {
	if k == "" || len(k) > 64 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~') {
			return false
		}
	}
	return true
}

// lookup resolves a property key, through the cache.
func (h *tagHandler) lookup(ctx context.Context, key string) (*tagEntry, error) {
	now := time.Now()
	h.mu.Lock()
	if e := h.cache[key]; e != nil && now.Before(e.expires) {
		h.mu.Unlock()
		return e, nil
	}
	l := h.loading[key]
	if l == nil {
		l = &tagLoad{done: make(chan struct{})}
		h.loading[key] = l
		h.mu.Unlock()
		// The load is shared: it must not end with the request that started it.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		l.e, l.err = h.load(lctx, key)
		cancel()
		h.mu.Lock()
		delete(h.loading, key)
		if l.err == nil {
			l.e.expires = now.Add(propertyTTL)
			if len(h.cache) >= maxCachedProperties {
				clear(h.cache)
			}
			h.cache[key] = l.e
		}
		h.mu.Unlock()
		close(l.done)
	} else {
		h.mu.Unlock()
	}
	select {
	case <-l.done:
		return l.e, l.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// load reads a property and renders its tag. The key is public and names
// the account, so the lookup looks across all accounts.
func (h *tagHandler) load(ctx context.Context, key string) (*tagEntry, error) {
	if !validPropertyKey(key) {
		return &tagEntry{}, nil
	}
	sys := viewer.SystemContext(ctx, "")
	p, err := h.client.Property.Query().Where(property.Key(key)).WithAccount().Only(sys)
	if ent.IsNotFound(err) {
		return &tagEntry{}, nil
	}
	if err != nil {
		return nil, err
	}
	days := p.AttributionWindowDays
	if days == 0 && p.Edges.Account != nil {
		days = p.Edges.Account.AttributionWindowDays
	}
	rules := make([]tag.AutoTagRule, len(p.AutotagRules))
	for i, r := range p.AutotagRules {
		rules[i] = tag.AutoTagRule{Domain: r.Domain, Param: r.Param}
	}
	script, err := tag.Script(tag.Config{IngestURL: h.publicURL + "/t/" + key, AttributionWindowDays: days, AutoTag: rules})
	if err != nil {
		return nil, err
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	_, _ = zw.Write(script)
	_ = zw.Close()
	sum := sha256.Sum256(script)
	return &tagEntry{
		found: true, accountID: p.AccountID, propertyID: p.ID,
		script: script, gz: gz.Bytes(),
		etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`,
	}, nil
}

// writeJSComment answers with a script that does nothing, so that a page
// holding a wrong or broken tag gets no error from it.
func writeJSComment(w http.ResponseWriter, status int, msg string, maxAge time.Duration) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(maxAge.Seconds())))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, "/* clickback: "+msg+" */\n")
}

// serveScript is GET /tag/{file}, where file is "{propertyKey}.js".
func (h *tagHandler) serveScript(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	key, ok := strings.CutSuffix(r.PathValue("file"), ".js")
	if !ok {
		writeJSComment(w, http.StatusNotFound, "not found: the tag is /tag/{propertyKey}.js", time.Minute)
		return
	}
	e, err := h.lookup(r.Context(), key)
	if err != nil {
		h.logger.ErrorContext(r.Context(), "tag lookup failed", "err", err)
		writeJSComment(w, http.StatusServiceUnavailable, "temporarily unavailable", 0)
		return
	}
	if !e.found {
		writeJSComment(w, http.StatusNotFound, "unknown property", time.Minute)
		return
	}
	hd := w.Header()
	hd.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(tagMaxAge.Seconds())))
	hd.Set("ETag", e.etag)
	hd.Set("Vary", "Accept-Encoding")
	hd.Set("Content-Type", "text/javascript; charset=utf-8")
	if etagMatch(r.Header.Get("If-None-Match"), e.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := e.script
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		hd.Set("Content-Encoding", "gzip")
		body = e.gz
	}
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// etagMatch reports whether an If-None-Match header names etag (weakly, as
// RFC 9110 asks for GET).
func etagMatch(header, etag string) bool {
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip.
func acceptsGzip(header string) bool {
	for t := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(t), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.ToLower(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

// servePreflight answers CORS preflights of POST /t/{propertyKey}. The tag
// sends text/plain and needs none; other senders (fetch with JSON) may.
func (h *tagHandler) servePreflight(w http.ResponseWriter, _ *http.Request) {
	hd := w.Header()
	hd.Set("Access-Control-Allow-Origin", "*")
	hd.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	hd.Set("Access-Control-Allow-Headers", "Content-Type")
	hd.Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}

// serveIngest is POST /t/{propertyKey}: one batch of the tag's events,
// answered 204 once it is committed.
func (h *tagHandler) serveIngest(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	ctx := r.Context()
	ip := auth.ClientIP(ctx)
	if ok, wait := h.byIP.Reserve(ip); !ok {
		tooMany(w, wait)
		return
	}
	key := r.PathValue("propertyKey")
	e, err := h.lookup(ctx, key)
	if err != nil {
		h.logger.ErrorContext(ctx, "property lookup failed", "err", err)
		writeJSONError(w, http.StatusServiceUnavailable, "temporarily unavailable, try again")
		return
	}
	if !e.found {
		writeJSONError(w, http.StatusNotFound, "unknown property")
		return
	}
	if ok, wait := h.byProp.Reserve(e.propertyID); !ok {
		tooMany(w, wait)
		return
	}
	if r.ContentLength > tag.MaxBodyBytes {
		writeJSONError(w, http.StatusRequestEntityTooLarge, tag.ErrBodyTooLarge.Error())
		return
	}
	buf := ingestBodies.Get().(*bytes.Buffer)
	defer func() {
		buf.Reset()
		ingestBodies.Put(buf) // at most MaxBodyBytes and a little: bounded
	}()
	buf.Reset()
	_, err = buf.ReadFrom(http.MaxBytesReader(w, r.Body, tag.MaxBodyBytes))
	body := buf.Bytes() // ParseBatch copies what it keeps
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeJSONError(w, http.StatusRequestEntityTooLarge, tag.ErrBodyTooLarge.Error())
			return
		}
		writeJSONError(w, http.StatusBadRequest, "could not read the body")
		return
	}
	b, err := tag.ParseBatch(body)
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, err.Error())
		return
	}
	ua := r.UserAgent()
	for _, ev := range b.Events {
		if ev.Type == tag.Error {
			// The tag reports its first error once per page: worth a look by
			// whoever runs clickback, not a row of the tenant's data.
			h.logger.WarnContext(ctx, "tag reported an error", "property", key, "page", ev.URL, "message", ev.Message, "user_agent", ua)
		}
	}
	err = h.recorder.Record(ctx, &visit.Batch{
		AccountID: e.accountID, PropertyID: e.propertyID,
		IP: ip, UserAgent: ua, Bot: tag.IsBot(ua),
		Received: time.Now().UTC(),
		Events:   b.Events,
	})
	if err != nil {
		if ctx.Err() != nil {
			// The browser left before the commit; a queued batch is still
			// written, there is merely nobody left to tell.
			h.logger.InfoContext(ctx, "tag client gone before the commit", "property", key, "err", err)
		} else {
			h.logger.ErrorContext(ctx, "tag events not recorded", "property", key, "err", err)
		}
		writeJSONError(w, http.StatusServiceUnavailable, "events not recorded, try again")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// ingestBodies are the buffers ingest requests are read into.
var ingestBodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func tooMany(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
	writeJSONError(w, http.StatusTooManyRequests, "rate limit exceeded")
}
