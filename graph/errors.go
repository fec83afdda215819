package graph

import (
	"context"
	"errors"
	"log/slog"
	"unicode/utf8"

	"entgo.io/ent/privacy"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/clickback/clickback/auth"
	"github.com/clickback/clickback/ent"
)

// Error codes, in every error's extensions.code. They are part of the API:
// clients branch on them.
const (
	CodeUnauthenticated = "UNAUTHENTICATED"
	CodeForbidden       = "FORBIDDEN"
	CodeBadUserInput    = "BAD_USER_INPUT"
	CodeNotFound        = "NOT_FOUND"
	CodeConflict        = "CONFLICT"
	CodeRateLimited     = "RATE_LIMITED"
	CodeInternal        = "INTERNAL_SERVER_ERROR"
	CodeQueryTooComplex = "QUERY_TOO_COMPLEX"
)

// presentError turns a resolver's error into what the client sees: a clear,
// stable message and code for what the client can act on, and for anything
// else "internal error" — the details (SQL, paths) go to the log only.
func presentError(logger *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		gqlErr.Message = clip(gqlErr.Message)
		if gqlErr.Extensions != nil && gqlErr.Extensions["code"] != nil {
			return gqlErr // already classified (gqlgen's own, or ours)
		}
		code, msg := classify(err)
		if code == "" {
			var inner *gqlerror.Error
			if errors.As(err, &inner) && errors.Unwrap(inner) == nil {
				// gqlgen's parse and validation errors: safe to show.
				return gqlErr
			}
			logger.ErrorContext(ctx, "graphql resolver failed", "path", gqlErr.Path.String(), "err", err)
			code, msg = CodeInternal, "internal error"
		}
		gqlErr.Message = msg
		if gqlErr.Extensions == nil {
			gqlErr.Extensions = map[string]any{}
		}
		gqlErr.Extensions["code"] = code
		return gqlErr
	}
}

// maxMessage bounds an error message: some echo the client's input (a
// node id, gqlgen's "body could not be decoded … body:<the body>"), and a
// 1 MB input must not come back as a 1 MB answer.
const maxMessage = 500

// clip shortens msg to maxMessage bytes, on a rune boundary.
func clip(msg string) string {
	if len(msg) <= maxMessage {
		return msg
	}
	cut := maxMessage
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + "…"
}

// classify maps the errors a client can act on to a code and message; ""
// means an internal error.
func classify(err error) (code, msg string) {
	var input *auth.InputError
	var validation *ent.ValidationError
	var notFound *ent.NotFoundError
	switch {
	case errors.Is(err, auth.ErrUnauthenticated), errors.Is(err, auth.ErrInvalidCredentials):
		return CodeUnauthenticated, rootMessage(err)
	case errors.Is(err, auth.ErrRateLimited):
		return CodeRateLimited, auth.ErrRateLimited.Error()
	case errors.Is(err, auth.ErrEmailTaken):
		return CodeConflict, auth.ErrEmailTaken.Error()
	case errors.Is(err, privacy.Deny):
		return CodeForbidden, "you are not allowed to do this"
	case errors.As(err, &input):
		return CodeBadUserInput, input.Msg
	case errors.As(err, &validation):
		return CodeBadUserInput, validation.Error()
	case errors.As(err, &notFound):
		return CodeNotFound, "not found"
	case ent.IsConstraintError(err):
		return CodeConflict, "this conflicts with an existing record"
	}
	return "", ""
}

// rootMessage is the message of the sentinel at the root of an
// authentication error, without the wrapped details.
func rootMessage(err error) string {
	if errors.Is(err, auth.ErrInvalidCredentials) {
		return auth.ErrInvalidCredentials.Error()
	}
	return auth.ErrUnauthenticated.Error()
}

// unauthenticated is the response to an operation that needs a viewer and
// has none: an error, never data.
func unauthenticated() *graphql.Response {
	return &graphql.Response{Errors: gqlerror.List{{
		Message:    auth.ErrUnauthenticated.Error(),
		Extensions: map[string]any{"code": CodeUnauthenticated},
	}}}
}
