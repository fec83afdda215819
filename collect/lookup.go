package collect

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/ent/account"
	entintegration "github.com/clickback/clickback/ent/integration"
	"github.com/clickback/clickback/integration"
	"github.com/clickback/clickback/postback"
	"github.com/clickback/clickback/viewer"
)

// target is what the collect endpoint knows of an account key and
// integration slug: a snapshot, cached for Options.CacheTTL. A nil
// integration means the account or the slug does not exist (cached too,
// so that a flood of wrong URLs does not reach the database).
type target struct {
	accountID   string
	accountKey  string
	integration *ent.Integration
	allow       integration.Allowlist
	denyAll     bool
	config      postback.Config
	successBody string
	expires     time.Time
}

// maxCached bounds the cache; past it, the cache starts afresh. Real
// installations have far fewer integrations; the bound is for floods of
// made-up URLs.
const maxCached = 100_000

// lookupCache holds targets by account key and slug, and makes concurrent
// misses of one key share a single database lookup.
type lookupCache struct {
	ttl    time.Duration
	client *ent.Client

	mu       sync.RWMutex
	entries  map[cacheKey]*target
	inflight map[cacheKey]*lookupCall
}

type cacheKey struct{ accountKey, slug string }

type lookupCall struct {
	done chan struct{}
	t    *target
	err  error
}

func newLookupCache(client *ent.Client, ttl time.Duration) *lookupCache {
	return &lookupCache{
		ttl:      ttl,
		client:   client,
		entries:  make(map[cacheKey]*target),
		inflight: make(map[cacheKey]*lookupCall),
	}
}

// get returns the target of key, from the cache when it is fresh.
func (c *lookupCache) get(ctx context.Context, key cacheKey, now time.Time) (*target, error) {
	c.mu.RLock()
	t := c.entries[key]
	c.mu.RUnlock()
	if t != nil && now.Before(t.expires) {
		return t, nil
	}
	c.mu.Lock()
	if t := c.entries[key]; t != nil && now.Before(t.expires) {
		c.mu.Unlock()
		return t, nil
	}
	call := c.inflight[key]
	if call == nil {
		call = &lookupCall{done: make(chan struct{})}
		c.inflight[key] = call
		c.mu.Unlock()
		// The lookup is not tied to the first request's context: the
		// others waiting on it must not fail because that one left.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		call.t, call.err = c.load(lctx, key, now)
		cancel()
		c.mu.Lock()
		delete(c.inflight, key)
		if call.err == nil {
			if len(c.entries) >= maxCached {
				c.entries = make(map[cacheKey]*target)
			}
			c.entries[key] = call.t
		}
		c.mu.Unlock()
		close(call.done)
		return call.t, call.err
	}
	c.mu.Unlock()
	select {
	case <-call.done:
		return call.t, call.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// forget drops every cached target of the account, so that a change made
// in this process applies to the next postback at once. Other processes
// see it when their entries expire.
func (c *lookupCache) forget(accountID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, t := range c.entries {
		if t.accountID == accountID || t.accountID == "" {
			delete(c.entries, k)
		}
	}
}

// load reads the account and the integration. Resolving an account key
// looks across accounts, so it is the one place that acts as the
// all-accounts system viewer; the integration is read as the account's.
func (c *lookupCache) load(ctx context.Context, key cacheKey, now time.Time) (*target, error) {
	t := &target{accountKey: key.accountKey, expires: now.Add(c.ttl)}
	acc, err := c.client.Account.Query().
		Where(account.Key(key.accountKey)).
		Only(viewer.SystemContext(ctx, ""))
	if ent.IsNotFound(err) {
		return t, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up account: %w", err)
	}
	t.accountID = acc.ID
	it, err := c.client.Integration.Query().
		Where(entintegration.AccountID(acc.ID), entintegration.Slug(key.slug)).
		Only(viewer.SystemContext(ctx, acc.ID))
	if ent.IsNotFound(err) {
		return t, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up integration: %w", err)
	}
	allow, err := integration.ParseAllowlist(it.IPAllowlist)
	// Validated when written; a bad stored entry must not open the door,
	// so such an integration refuses every address.
	t.denyAll = err != nil
	t.integration = it
	t.allow = allow
	t.config = integration.ParseConfig(it, acc.Currency)
	if p, ok := postback.LookupPreset(string(it.Network)); ok {
		t.successBody = p.SuccessBody
	}
	return t, nil
}
