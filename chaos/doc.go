// Package chaos holds clickback's fault tests: the real binary killed with
// SIGKILL under load, its database restarted, several replicas on one
// PostgreSQL, broken platforms and a full disk, each followed by exact counts
// of what was acknowledged and what was stored and forwarded.
//
// They are behind the build tag chaos, since they take minutes:
//
//	go test -tags=chaos ./chaos/...
//
// RELIABILITY.md lists each promise with the test that proves it.
package chaos
