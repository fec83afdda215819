package jobs

import (
	entsql "entgo.io/ent/dialect/sql"
)

// oneOf is the condition that column col is one of vals, for a query of
// any entity (ent's predicates are func(*sql.Selector) whatever the
// entity). On PostgreSQL it is = ANY of one array parameter rather than
// IN with a parameter per value: the statement's text is then the same
// whatever the number of values, so PostgreSQL parses and plans it once
// per connection rather than for each batch size, and pgx encodes one
// array rather than a value per parameter. Elsewhere it is IN.
func oneOf(postgres bool, col string, vals []string) func(*entsql.Selector) {
	return func(s *entsql.Selector) {
		if !postgres {
			args := make([]any, len(vals))
			for i, v := range vals {
				args[i] = v
			}
			s.Where(entsql.In(s.C(col), args...))
			return
		}
		s.Where(entsql.P(func(b *entsql.Builder) {
			b.WriteString(s.C(col)).WriteString(" = ANY(").Arg(vals).WriteString(")")
		}))
	}
}
