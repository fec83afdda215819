// Package graph is clickback's GraphQL API: the schema (*.graphqls beside
// entgql's generated ent.graphql), and resolvers that hand off to ent and the
// domain packages.
package graph

//go:generate sh -c "cd .. && go run github.com/99designs/gqlgen generate"
