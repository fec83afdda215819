// Package ent holds clickback's data model: the schemas in ent/schema and the
// code ent generates from them (do not edit the generated files; run
// `go generate ./ent`).
package ent

//go:generate sh -c "cd .. && go run -mod=mod ./ent/entc.go"
