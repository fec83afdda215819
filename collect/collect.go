// Package collect is the postback endpoint, GET|POST
// /{accountKey}/collect/{integrationSlug}: it authenticates a network's
// request, parses it (package postback) and stores it as a Conversion
// through a group committer, answering only after the commit.
//
// The order of the checks is the order of their cost: rate limits (memory),
// the account and integration (a cache, refreshed every few seconds), the
// IP allowlist and the secret (memory), then the body. Requests refused
// before the body — 401, 403, 404, 429 — are not stored: a wrong secret is
// not the tenant's data and must not let anyone write into its Events Log.
// They are counted on the integration (rejectedCalls) when there is one.
// Every request that passes the secret is stored, whatever its body: as
// RECEIVED, DUPLICATE, MISSING_CLICK_ID or INVALID.
package collect

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"entgo.io/ent/dialect"
	"entgo.io/ent/privacy"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/clickback/clickback/auth"
	"github.com/clickback/clickback/database"
	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/ent/conversion"
	"github.com/clickback/clickback/groupcommit"
	"github.com/clickback/clickback/integration"
	"github.com/clickback/clickback/metrics"
	"github.com/clickback/clickback/postback"
	"github.com/clickback/clickback/ratelimit"
	"github.com/clickback/clickback/viewer"
)

// Options tune the endpoint. The zero value of a field means its default.
type Options struct {
	// AccountRate and AccountBurst limit postbacks per account key, per
	// second, in this process (default 2,000/s, bursts of 5,000).
	AccountRate  float64
	AccountBurst int
	// IPRate and IPBurst limit postbacks per source IP (default 1,000/s,
	// bursts of 2,000): a network calls from a few addresses, so this
	// mostly bounds what one misbehaving client can make the server do.
	IPRate  float64
	IPBurst int
	// CacheTTL is how long an account and integration lookup is reused
	// (default 5s): changes made in another process apply after it.
	CacheTTL time.Duration
	// Batch tunes the group committer; its defaults depend on the database
	// (see DefaultBatch).
	Batch groupcommit.Options
}

// DefaultBatch is the committer's tuning per dialect: SQLite has one
// writer anyway, so one transaction at a time with large batches;
// PostgreSQL commits several batches at once, each paying its own fsync.
func DefaultBatch(dialectName string) groupcommit.Options {
	if dialectName == dialect.Postgres {
		return groupcommit.Options{MaxBatch: 256, Window: 2 * time.Millisecond, Writers: 4, Timeout: 10 * time.Second}
	}
	return groupcommit.Options{MaxBatch: 500, Window: 2 * time.Millisecond, Writers: 1, Timeout: 10 * time.Second}
}

func (o *Options) defaults(dialectName string) {
	if o.AccountRate <= 0 {
		o.AccountRate = 2000
	}
	if o.AccountBurst <= 0 {
		o.AccountBurst = 5000
	}
	if o.IPRate <= 0 {
		o.IPRate = 1000
	}
	if o.IPBurst <= 0 {
		o.IPBurst = 2000
	}
	if o.CacheTTL <= 0 {
		o.CacheTTL = 5 * time.Second
	}
	def := DefaultBatch(dialectName)
	if o.Batch.MaxBatch <= 0 {
		o.Batch.MaxBatch = def.MaxBatch
	}
	if o.Batch.Window <= 0 {
		o.Batch.Window = def.Window
	}
	if o.Batch.Writers <= 0 {
		o.Batch.Writers = def.Writers
	}
	if o.Batch.Timeout <= 0 {
		o.Batch.Timeout = def.Timeout
	}
}

// Deps is what the endpoint is built from.
type Deps struct {
	DB *database.DB
	// River inserts the match jobs in the conversions' transactions.
	River   *river.Client[*sql.Tx]
	Logger  *slog.Logger
	Options Options
}

// Collector is the postback endpoint. It is safe for concurrent use.
type Collector struct {
	db        *database.DB
	logger    *slog.Logger
	opts      Options
	ipLimit   *ratelimit.Limiter
	accLimit  *ratelimit.Limiter
	cache     *lookupCache
	committer *groupcommit.Committer[*item]
	writer    *writer
	rejects   *rejectCounter
	now       func() time.Time
}

// New returns a Collector writing into d.DB. Close it to write what is
// queued before the database closes.
func New(d Deps) *Collector {
	opts := d.Options
	opts.defaults(d.DB.Dialect)
	w := &writer{dialect: d.DB.Dialect, ent: d.DB.Ent, river: d.River}
	c := &Collector{
		db:       d.DB,
		logger:   d.Logger,
		opts:     opts,
		ipLimit:  ratelimit.New(opts.IPRate, opts.IPBurst, 100_000),
		accLimit: ratelimit.New(opts.AccountRate, opts.AccountBurst, 100_000),
		cache:    newLookupCache(d.DB.Ent, opts.CacheTTL),
		rejects:  newRejectCounter(d.DB.Ent, d.Logger),
		writer:   w,
		now:      time.Now,
	}
	if d.DB.Pool != nil {
		// An insert-only client (no pool, no workers) puts the match jobs
		// in the batch's pgx transaction.
		if rc, err := river.NewClient(riverpgxv5.New(nil), &river.Config{}); err == nil {
			w.pgRiver = rc
			c.committer = groupcommit.NewPgx(d.DB.Pool, w.writePgx, opts.Batch)
			return c
		} else if d.Logger != nil {
			d.Logger.Warn("collect: no River client for pgx; writing through database/sql", "err", err)
		}
	}
	c.committer = groupcommit.New(d.DB.Ent, func(ctx context.Context, tx *ent.Tx, items []*item) error {
		return w.write(ctx, tx, items)
	}, opts.Batch)
	return c
}

// Close writes every queued postback and the pending rejected-call counts.
func (c *Collector) Close() {
	c.committer.Close()
	c.rejects.flush()
}

// Forget drops the cached lookups of an account: call it after changing
// one of its integrations, so that this process applies the change to the
// next postback.
func (c *Collector) Forget(accountID string) { c.cache.forget(accountID) }

// Path values of the route.
const (
	PathAccountKey = "accountKey"
	PathSlug       = "integrationSlug"
)

// Limits of the stored raw request: enough to see what the network sent,
// bounded so that a hostile request cannot fill the database.
const (
	maxRawQuery     = 4 << 10
	maxRawBody      = 8 << 10
	maxRawUserAgent = 512
	maxRawStored    = 16 << 10
)

var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// ServeHTTP handles one postback.
func (c *Collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ip := auth.ClientIP(ctx)
	if ip == "" {
		ip, _, _ = net.SplitHostPort(r.RemoteAddr)
	}
	if ok, wait := c.ipLimit.Reserve(ip); !ok {
		metrics.Postbacks.Inc(outcomeRejected)
		tooMany(w, wait, "too many postbacks from this address")
		return
	}
	key := cacheKey{accountKey: r.PathValue(PathAccountKey), slug: r.PathValue(PathSlug)}
	// Keys are short ASCII; invalid UTF-8 would fail PostgreSQL's lookup
	// and answer 503, which networks retry forever.
	if len(key.accountKey) > 64 || len(key.slug) > 64 || !utf8.ValidString(key.accountKey) || !utf8.ValidString(key.slug) {
		metrics.Postbacks.Inc(outcomeNotFound)
		answerError(w, http.StatusNotFound, "", "unknown account or integration")
		return
	}
	if ok, wait := c.accLimit.Reserve(key.accountKey); !ok {
		metrics.Postbacks.Inc(outcomeRejected)
		tooMany(w, wait, "too many postbacks for this account")
		return
	}
	now := c.now()
	t, err := c.cache.get(ctx, key, now)
	if err != nil {
		c.logger.ErrorContext(ctx, "collect lookup failed", "err", err)
		answerError(w, http.StatusServiceUnavailable, "", "temporarily unavailable, retry later")
		return
	}
	if t.integration == nil {
		c.logger.InfoContext(ctx, "postback for unknown account or integration", "known_account", t.accountID != "")
		metrics.Postbacks.Inc(outcomeNotFound)
		answerError(w, http.StatusNotFound, "", "unknown account or integration")
		return
	}
	it := t.integration
	if !it.Enabled {
		c.rejects.add(t.accountID, it.ID, now)
		metrics.Postbacks.Inc(outcomeRejected)
		answerError(w, http.StatusForbidden, "", "this integration is disabled")
		return
	}
	if t.denyAll || !t.allow.Allows(ip) {
		c.rejects.add(t.accountID, it.ID, now)
		metrics.Postbacks.Inc(outcomeRejected)
		answerError(w, http.StatusForbidden, "", "postbacks from this address are not allowed for this integration")
		return
	}
	if !integration.SecretOK(it.Secret, it.PreviousSecret, it.PreviousSecretExpiresAt, postback.QuerySecret(r.URL.RawQuery), now) {
		c.rejects.add(t.accountID, it.ID, now)
		metrics.Postbacks.Inc(outcomeUnauthorized)
		answerError(w, http.StatusUnauthorized, "", "missing or wrong secret: copy the postback URL again from clickback")
		return
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK) // a network checking that the URL answers
		return
	}

	buf := bodyPool.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 2*postback.MaxBodyBytes {
			buf.Reset()
			bodyPool.Put(buf)
		}
	}()
	buf.Reset()
	var item *item
	code := http.StatusOK
	contentType := r.Header.Get("Content-Type")
	bodyErr := readBody(buf, r)
	raw := c.rawRequest(r, t, contentType, buf.Bytes(), bodyErr)
	switch {
	case bodyErr != nil:
		code = http.StatusBadRequest
		if errors.Is(bodyErr, postback.ErrBodyTooLarge) {
			code = http.StatusRequestEntityTooLarge
		}
		item = invalidItem(t, bodyErr.Error(), raw, ip, now)
	default:
		params, err := postback.ParseParams(r.URL.RawQuery, contentType, buf.Bytes())
		if err != nil {
			code = http.StatusBadRequest
			switch {
			case errors.Is(err, postback.ErrBodyTooLarge):
				code = http.StatusRequestEntityTooLarge
			case errors.Is(err, postback.ErrUnsupportedContentType):
				code = http.StatusUnsupportedMediaType
			}
			item = invalidItem(t, err.Error(), raw, ip, now)
		} else {
			pb := postback.Parse(params, t.config)
			item = newItem(t, pb, raw, ip, false, now)
			if pb.Outcome != postback.OutcomeReceived {
				code = http.StatusBadRequest
			}
		}
	}
	if err := c.committer.Submit(ctx, item); err != nil {
		if ctx.Err() != nil {
			return // the network left; the item is written all the same (and not counted)
		}
		c.logger.ErrorContext(ctx, "storing postback failed", "err", err)
		answerError(w, http.StatusServiceUnavailable, "", "the postback could not be stored; retry later")
		return
	}
	metrics.Postbacks.Inc(item.outcome())
	if code != http.StatusOK {
		answerError(w, code, item.id, fmt.Sprintf("%s: %s", item.status, item.reason))
		return
	}
	answerOK(w, t.successBody, item)
}

// Outcomes of a postback, the label of metrics.Postbacks (see metrics).
const (
	outcomeAccepted       = "accepted"
	outcomeDuplicate      = "duplicate"
	outcomeInvalid        = "invalid"
	outcomeMissingClickID = "missing_click_id"
	outcomeRejected       = "rejected" // rate limited, disabled, address not allowed
	outcomeUnauthorized   = "unauthorized"
	outcomeNotFound       = "not_found"
)

// outcome is the metrics label of a stored item.
func (it *item) outcome() string {
	switch {
	case it.duplicate:
		return outcomeDuplicate
	case it.status == conversion.StatusMISSING_CLICK_ID:
		return outcomeMissingClickID
	case it.status == conversion.StatusINVALID:
		return outcomeInvalid
	}
	return outcomeAccepted
}

// readBody reads the request body into buf, up to MaxBodyBytes. A larger
// body is ErrBodyTooLarge, with the first MaxBodyBytes in buf for the raw
// request.
func readBody(buf *bytes.Buffer, r *http.Request) error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	if r.ContentLength > postback.MaxBodyBytes {
		_, _ = io.CopyN(buf, r.Body, maxRawBody)
		return fmt.Errorf("%w: %d bytes, the limit is %d", postback.ErrBodyTooLarge, r.ContentLength, postback.MaxBodyBytes)
	}
	n, err := buf.ReadFrom(io.LimitReader(r.Body, postback.MaxBodyBytes+1))
	if err != nil {
		return fmt.Errorf("the request body could not be read: %w", err)
	}
	if n > postback.MaxBodyBytes {
		return fmt.Errorf("%w: more than %d bytes", postback.ErrBodyTooLarge, postback.MaxBodyBytes)
	}
	return nil
}

// rawRequest is the request as stored with the conversion.
type rawRequest struct {
	Method      string `json:"method"`
	Path        string `json:"path"`
	Query       string `json:"query,omitempty"`
	ContentType string `json:"contentType,omitempty"`
	Body        string `json:"body,omitempty"`
	BodyBytes   int    `json:"bodyBytes,omitempty"`
	Truncated   bool   `json:"truncated,omitempty"`
	UserAgent   string `json:"userAgent,omitempty"`
}

// rawRequest renders the request for the Events Log: the secret redacted
// wherever it appears (the query's secret parameter, and its value anywhere
// in the query or body), sizes bounded, as JSON (which also makes binary
// garbage and invalid UTF-8 storable text).
func (c *Collector) rawRequest(r *http.Request, t *target, contentType string, body []byte, bodyErr error) string {
	rr := rawRequest{
		Method:      r.Method,
		Path:        r.URL.Path,
		Query:       redact(postback.RedactQuery(r.URL.RawQuery), t.integration),
		ContentType: cut(contentType, 256),
		UserAgent:   cut(r.UserAgent(), maxRawUserAgent),
		BodyBytes:   len(body),
	}
	if r.ContentLength > int64(len(body)) {
		rr.BodyBytes = int(min(r.ContentLength, 1<<40))
	}
	if len(rr.Query) > maxRawQuery {
		rr.Query, rr.Truncated = rr.Query[:maxRawQuery], true
	}
	if len(body) > 0 {
		b := body
		if len(b) > maxRawBody {
			b, rr.Truncated = b[:maxRawBody], true
		}
		if bodyErr != nil && rr.BodyBytes > len(body) {
			rr.Truncated = true
		}
		s := string(b)
		if !strings.HasPrefix(strings.TrimSpace(s), "{") {
			s = postback.RedactQuery(s)
		}
		rr.Body = redact(s, t.integration)
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	for {
		out.Reset()
		if err := enc.Encode(rr); err != nil {
			return `{"error":"the request could not be recorded"}`
		}
		// Escaping can make binary garbage six times longer: cut further
		// until the stored text is within bounds.
		if out.Len() <= maxRawStored || len(rr.Body)+len(rr.Query) == 0 {
			break
		}
		rr.Truncated = true
		rr.Body = cut(rr.Body, len(rr.Body)/2)
		rr.Query = cut(rr.Query, len(rr.Query)/2)
	}
	return strings.TrimSuffix(out.String(), "\n")
}

// redact replaces the integration's secrets wherever they appear in s.
func redact(s string, it *ent.Integration) string {
	for _, secret := range []string{it.Secret, it.PreviousSecret} {
		if secret != "" && strings.Contains(s, secret) {
			s = strings.ReplaceAll(s, secret, postback.Redacted)
		}
	}
	return s
}

// Answers. A network's test tool shows the body, so it says what happened
// in a line; presets that expect a particular success body get it.
func answerOK(w http.ResponseWriter, successBody string, it *item) {
	h := w.Header()
	if successBody != "" {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, successBody)
		return
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	status := "RECEIVED"
	if it.duplicate {
		status = "DUPLICATE"
	}
	_, _ = io.WriteString(w, `{"ok":true,"status":"`+status+`","id":"`+it.id+`"}`+"\n")
}

func answerError(w http.ResponseWriter, code int, id, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	body := map[string]any{"ok": false, "error": msg}
	if id != "" {
		body["id"] = id
	}
	_ = json.NewEncoder(w).Encode(body)
}

func tooMany(w http.ResponseWriter, wait time.Duration, msg string) {
	w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
	answerError(w, http.StatusTooManyRequests, "", msg+"; retry later")
}

// SendTest stores a test conversion for the integration through the same
// parsing, committer and match job as a network's postback, marked test,
// and returns it. The viewer must be allowed to manage the integration
// (ADMIN); client is the viewer's (never a transaction's: the committer
// writes in its own transaction, and on SQLite a transaction held open
// here would wait on it forever).
func (c *Collector) SendTest(ctx context.Context, client *ent.Client, integrationID string) (*ent.Conversion, error) {
	if v, _ := viewer.FromContext(ctx); !v.Can(viewer.RoleAdmin) {
		return nil, privacy.Denyf("sending a test postback needs the ADMIN role")
	}
	it, err := client.Integration.Get(ctx, integrationID)
	if err != nil {
		return nil, err
	}
	acc, err := client.Account.Get(ctx, it.AccountID)
	if err != nil {
		return nil, err
	}
	t := &target{accountID: acc.ID, accountKey: acc.Key, integration: it, config: integration.ParseConfig(it, acc.Currency)}
	suffix := strings.ToLower(integration.NewSecret()[:12])
	params := postback.Params{
		{Name: string(postback.FieldClickID), Value: "test-" + suffix},
		{Name: string(postback.FieldTransactionID), Value: "test-" + suffix},
		{Name: string(postback.FieldAmount), Value: "1.00"},
		{Name: string(postback.FieldCurrency), Value: acc.Currency},
	}
	var q strings.Builder
	for i, p := range params {
		if i > 0 {
			q.WriteByte('&')
		}
		q.WriteString(p.Name + "=" + p.Value)
	}
	raw, _ := json.Marshal(rawRequest{Method: "TEST", Path: "/" + acc.Key + "/collect/" + it.Slug, Query: q.String(), UserAgent: "clickback sendTestPostback"})
	item := newItem(t, postback.Parse(params, t.config), string(raw), auth.ClientIP(ctx), true, c.now())
	if err := c.committer.Submit(ctx, item); err != nil {
		return nil, fmt.Errorf("store test postback: %w", err)
	}
	return client.Conversion.Get(ctx, item.id)
}
