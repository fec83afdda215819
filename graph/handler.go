package graph

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"entgo.io/contrib/entgql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"
	"github.com/riverqueue/river"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/clickback/clickback/auth"
	"github.com/clickback/clickback/collect"
	"github.com/clickback/clickback/destination"
	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/graph/generated"
	"github.com/clickback/clickback/viewer"
)

// Config is what the GraphQL handler needs.
type Config struct {
	// Collector is the postback endpoint, for sendTestPostback and for
	// dropping its cached lookups when an integration changes.
	Collector     *collect.Collector
	Client        *ent.Client
	River         *river.Client[*sql.Tx]
	Auth          *auth.Service
	PublicURL     string
	Introspection bool
	Logger        *slog.Logger
	// Destinations seals destination credentials and sends test events.
	Destinations *destination.Service
}

// ComplexityLimit bounds the work one operation may ask for.
const ComplexityLimit = 2000

// publicFields are the root fields an operation may select without a
// viewer. Everything else needs a valid token.
var publicFields = map[string]bool{
	"signup": true, "login": true, "acceptInvitation": true,
	"__typename": true, "__schema": true, "__type": true,
}

// NewHandler returns the GraphQL endpoint: POST, GET and websocket
// (graphql-transport-ws) transports, authentication from the Authorization
// header or the websocket's connection_init payload, mutations in a
// transaction, a complexity limit, and errors that never leak internals.
func NewHandler(cfg Config) http.Handler {
	es := generated.NewExecutableSchema(generated.Config{Resolvers: &Resolver{
		Auth:      cfg.Auth,
		Collector: cfg.Collector,
		River:     cfg.River,
		PublicURL: cfg.PublicURL,
		// testDestination calls an ad platform: no transaction is held
		// open meanwhile (see the Transactioner below).
		Destinations: cfg.Destinations,
	}})
	srv := handler.New(es)
	srv.AddTransport(transport.Websocket{
		KeepAlivePingInterval: 10 * time.Second,
		// Authentication is by token in the payload, never by cookie, so
		// any origin may connect.
		Implementation: transport.CoderWebsocketImplementation{
			AcceptOptions: coderws.AcceptOptions{InsecureSkipVerify: true},
		},
		InitFunc: func(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			v, err := cfg.Auth.Authenticate(ctx, cfg.Client, bearer(p.Authorization()))
			if err != nil {
				return ctx, nil, errors.New(auth.ErrUnauthenticated.Error())
			}
			return viewer.NewContext(ctx, v), nil, nil
		},
	})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if cfg.Introspection {
		srv.Use(extension.Introspection{})
	}
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](100)})
	// The shape limit first: it stops after a bounded number of field
	// visits, where gqlgen's complexity walk expands every fragment spread
	// and takes exponential time on nested fragments (30 fragments each
	// spreading the next twice: 2^30 visits, minutes of CPU per request).
	srv.Use(shapeLimit{})
	srv.Use(extension.FixedComplexityLimit(ComplexityLimit))
	// sendTestPostback writes through the postback committer, in its own
	// transaction: one held open around it would, on SQLite's single
	// connection, wait on the committer forever.
	srv.Use(transactioner{entgql.Transactioner{TxOpener: cfg.Client, SkipTxFunc: entgql.SkipIfHasFields("sendTestPostback", "testDestination")}})
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		if _, ok := viewer.FromContext(ctx); ok || onlyPublic(ctx) {
			return next(ctx)
		}
		return func(context.Context) *graphql.Response { return unauthenticated() }
	})
	srv.AroundResponses(capErrors)
	srv.SetErrorPresenter(presentError(cfg.Logger))
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		cfg.Logger.ErrorContext(ctx, "graphql resolver panicked", "panic", p)
		return errors.New("internal error")
	})

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := ent.NewContext(r.Context(), cfg.Client)
		if token := bearer(r.Header.Get("Authorization")); token != "" {
			v, err := cfg.Auth.Authenticate(ctx, cfg.Client, token)
			if err != nil {
				cfg.Logger.InfoContext(ctx, "graphql token refused", "err", err)
			} else {
				ctx = viewer.NewContext(ctx, v)
			}
		}
		srv.ServeHTTP(w, r.WithContext(ctx))
	})
}

// transactioner is entgql's, for answers that have an operation: gqlgen
// answers a request that never became one (a body that is not JSON) through
// the same response interceptors, and entgql's then panicked on the missing
// operation context, turning a 400 into an internal error.
type transactioner struct{ entgql.Transactioner }

// InterceptResponse implements graphql.ResponseInterceptor.
func (t transactioner) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if !graphql.HasOperationContext(ctx) {
		return next(ctx)
	}
	return t.Transactioner.InterceptResponse(ctx, next)
}

// maxErrors bounds the errors of one answer: validation reports one per
// offending node, and a 1 MB document of 10,000 repeated directives drew a
// 1.7 MB answer.
const maxErrors = 20

// capErrors keeps the first maxErrors errors of an answer and says how
// many were left out.
func capErrors(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil || len(resp.Errors) <= maxErrors {
		return resp
	}
	more := len(resp.Errors) - maxErrors
	resp.Errors = append(resp.Errors[:maxErrors:maxErrors], &gqlerror.Error{
		Message:    fmt.Sprintf("%d more errors left out", more),
		Extensions: resp.Errors[0].Extensions,
	})
	return resp
}

// bearer extracts the token of an "Authorization: Bearer …" value.
func bearer(h string) string {
	const prefix = "bearer "
	if len(h) > len(prefix) && strings.EqualFold(h[:len(prefix)], prefix) {
		return strings.TrimSpace(h[len(prefix):])
	}
	return ""
}

// onlyPublic reports whether every root field of the operation is public.
func onlyPublic(ctx context.Context) bool {
	oc := graphql.GetOperationContext(ctx)
	if oc == nil || oc.Operation == nil {
		return false
	}
	fields := graphql.CollectFields(oc, oc.Operation.SelectionSet, nil)
	for _, f := range fields {
		if !publicFields[f.Name] {
			return false
		}
	}
	return len(fields) > 0
}
