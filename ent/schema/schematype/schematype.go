// Package schematype holds the Go types of clickback's JSON columns. They
// live apart from the schemas so that the generated code can use them
// without importing the schema package (which imports the generated
// privacy package).
package schematype

import "time"

// AutoTagRule tells the tag to append the Click ID to links pointing at
// Domain (or its subdomains) under the parameter Param, for networks whose
// links carry no `--CLICK-ID--` placeholder.
type AutoTagRule struct {
	Domain string `json:"domain"`
	Param  string `json:"param"`
}

// Attempt is one call to an ad platform for a Delivery.
type Attempt struct {
	At         time.Time `json:"at"`
	StatusCode int       `json:"statusCode"`
	Response   string    `json:"response"`
	Error      string    `json:"error,omitempty"`
}
