package pgtest

import (
	"context"
	"fmt"
)

// Scratch creates an empty database outside of any test, in the same
// server the tests use, for tools such as the migration generator. drop
// removes it.
func Scratch(ctx context.Context) (url string, drop func(), err error) {
	return scratch(ctx, 0)
}

// DurableScratch is Scratch in the durable cluster (see DurableURL), for
// tools that measure what a write costs, such as cmd/loadgen.
func DurableScratch(ctx context.Context) (url string, drop func(), err error) {
	return scratch(ctx, 1)
}

func scratch(ctx context.Context, server int) (url string, drop func(), err error) {
	if ok, why := Available(); !ok {
		return "", nil, fmt.Errorf("%s", why)
	}
	srv, err := servers[server]()
	if err != nil {
		return "", nil, err
	}
	name := databaseName("scratch")
	if err := srv.create(ctx, name, ""); err != nil {
		return "", nil, err
	}
	drop = func() {
		dctx, cancel := context.WithTimeout(context.Background(), dropTimeout)
		defer cancel()
		_ = srv.dropDatabase(dctx, name)
	}
	return srv.databaseURL(name), drop, nil
}
