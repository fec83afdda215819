package graph

import "github.com/clickback/clickback/ent"

// tagURL is where the tracking tag of p is served.
func (r *Resolver) tagURL(p *ent.Property) string {
	return r.PublicURL + "/tag/" + p.Key + ".js"
}
