package graph

import (
	"context"
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Shape limits of one operation, on top of the complexity limit: depth
// bounds nesting (connections inside connections), and the field and alias
// counts bound the breadth a complexity of 1 per field lets through (a
// thousand aliases of one cheap root field).
const (
	MaxDepth      = 12
	MaxRootFields = 20
	MaxAliases    = 50
	// maxFieldVisits bounds the work of the check itself on hostile
	// documents (fragments spread many times).
	maxFieldVisits = 10_000
)

// An operation refused by a limit was never run: like a parse or
// validation error, it answers 422, not 200 with errors (gqlgen's default
// for codes it does not know).
func init() {
	errcode.RegisterErrorType(CodeQueryTooComplex, errcode.KindProtocol)
	errcode.RegisterErrorType(codeComplexityLimit, errcode.KindProtocol)
}

// codeComplexityLimit is the code of extension.FixedComplexityLimit's
// error (unexported in gqlgen).
const codeComplexityLimit = "COMPLEXITY_LIMIT_EXCEEDED"

// shapeLimit is the gqlgen extension that enforces the limits.
type shapeLimit struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = shapeLimit{}

// ExtensionName implements graphql.HandlerExtension.
func (shapeLimit) ExtensionName() string { return "ShapeLimit" }

// Validate implements graphql.HandlerExtension.
func (shapeLimit) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator.
func (shapeLimit) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if n := len(oc.Operation.SelectionSet); n > MaxRootFields {
		return limitError(fmt.Sprintf("an operation may select at most %d root fields, not %d", MaxRootFields, n))
	}
	w := &shapeWalker{doc: oc.Doc}
	depth := w.depth(oc.Operation.SelectionSet, 0)
	switch {
	case w.visits > maxFieldVisits:
		return limitError("the operation is too large")
	case depth > MaxDepth:
		return limitError(fmt.Sprintf("an operation may nest at most %d levels, not %d", MaxDepth, depth))
	case w.aliases > MaxAliases:
		return limitError(fmt.Sprintf("an operation may use at most %d aliases, not %d", MaxAliases, w.aliases))
	}
	return nil
}

type shapeWalker struct {
	doc     *ast.QueryDocument
	visits  int
	aliases int
}

// depth returns the deepest field nesting under set, counting aliases on
// the way; it stops early once the limits are passed.
func (w *shapeWalker) depth(set ast.SelectionSet, level int) int {
	deepest := level
	for _, s := range set {
		w.visits++
		if w.visits > maxFieldVisits || level > MaxDepth {
			return level + 1
		}
		var d int
		switch s := s.(type) {
		case *ast.Field:
			if s.Alias != "" && s.Alias != s.Name {
				w.aliases++
			}
			if level == 0 && strings.HasPrefix(s.Name, "__") {
				// Introspection nests type references deeply (GraphiQL's
				// query goes 14 levels) but is bounded by the schema.
				continue
			}
			d = w.depth(s.SelectionSet, level+1)
		case *ast.InlineFragment:
			d = w.depth(s.SelectionSet, level)
		case *ast.FragmentSpread:
			if f := w.doc.Fragments.ForName(s.Name); f != nil {
				d = w.depth(f.SelectionSet, level)
			}
		}
		deepest = max(deepest, d)
	}
	return deepest
}

func limitError(msg string) *gqlerror.Error {
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": CodeQueryTooComplex}}
}
