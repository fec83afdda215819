package schema

import "regexp"

// slugPattern is what an integration slug may look like in a URL path.
var slugPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)
